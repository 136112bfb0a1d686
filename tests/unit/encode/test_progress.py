"""Progress hooks: called per chunk by encode_file; no bar unless stderr is a terminal."""

from __future__ import annotations

from hashmatch._progress import terminal_progress
from hashmatch.encode import encode_file


def test_encode_file_reports_bytes_per_chunk(party_csv, schema, secret, tmp_path) -> None:
    calls: list[tuple[int, int | None]] = []
    encode_file(
        party_csv,
        schema=schema,
        secret=secret,
        party="p",
        out=tmp_path / "p.hme",
        chunk_rows=2,
        progress=lambda done, total: calls.append((done, total)),
        workers=1,  # one call per chunk read (several workers cut the last ones smaller)
    )
    size = party_csv.stat().st_size
    assert len(calls) == 3 and all(total == size for _, total in calls)
    assert calls[-1][0] == size and [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_no_bar_when_stderr_is_not_a_terminal() -> None:
    with terminal_progress("x") as hook:  # pytest captures stderr: not a tty
        assert hook is None
