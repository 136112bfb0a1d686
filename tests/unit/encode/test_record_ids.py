"""Record ids seen in a run: a later row with an earlier row's id is a duplicate."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hashmatch.encode.record_ids import SeenIds


@given(
    chunks=st.lists(
        st.lists(
            st.sampled_from(["", "a", "b", "c", "d1", "é", "0"] + [f"id{i}" for i in range(40)]),
            max_size=30,
        ),
        max_size=12,
    )
)
def test_repeated_is_what_a_set_of_the_ids_says(chunks: list[list[str]]) -> None:
    seen, oracle = SeenIds(), set()
    for ids in chunks:
        expected = []
        for rid in ids:
            expected.append(bool(rid) and rid in oracle)
            if rid:
                oracle.add(rid)
        assert seen.repeated(ids).tolist() == expected
    assert len(seen) == len(oracle)  # one digest per distinct id, in sorted runs


def test_memory_is_eight_bytes_per_distinct_id() -> None:
    seen = SeenIds()
    for start in range(0, 200_000, 50_000):
        ids = [f"C{i:08d}" for i in range(start, start + 50_000)]
        assert not seen.repeated(ids).any()
    assert len(seen) == 200_000
    assert sum(run.nbytes for run in seen._runs) == 8 * 200_000
    assert len(seen._runs) <= 3  # merged like a binary counter
    assert seen.repeated(["C00000007", "new"]).tolist() == [True, False]
