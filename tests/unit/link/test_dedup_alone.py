"""A file deduplicated alone is cut at the centre of its valley floor, in a batch link and
in a registry alike; with other parties the pooled cross-party threshold keeps the floor's
lower edge (see :mod:`hashmatch.link.threshold`, step 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

import hashmatch as hm
from hashmatch.link.threshold import choose_threshold
from hashmatch.registry import update
from hashmatch.synth import synthesize
from hashmatch.synth.corrupt import CorruptionRates

SECRET = hm.LinkageSecret(bytes(range(32)))


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, hm.EncodedBatch]:
    """800 synthetic people in two parties, 5% of the records duplicated within a party."""
    data = synthesize(tmp_path_factory.mktemp("synth"), entities=800, seed=3,
                      parties=["crm", "callcentre"], rates=CorruptionRates(duplicate=0.05))
    return {name: hm.encode(files.csv, schema=data.schema, secret=SECRET, party=name,
                            mapping=files.mapping, workers=1)
            for name, files in data.parties.items()}


def test_one_party_alone_is_cut_at_the_floor_centre(batches: dict[str, hm.EncodedBatch]
                                                    ) -> None:
    result = hm.link([batches["crm"]], dedup=True)
    choice = result.threshold
    assert choice.method == "valley"
    assert "centre of the valley floor" in choice.explanation
    assert choice.value > choose_threshold(result.score_sample).value  # the lower edge
    assert [p.threshold for p in result.pair_stats] == [choice.value]


def test_with_other_parties_the_lower_edge_stays(batches: dict[str, hm.EncodedBatch]
                                                ) -> None:
    result = hm.link([batches["crm"], batches["callcentre"]], dedup=True)
    assert result.threshold.method == "valley"
    assert "centre" not in result.threshold.explanation
    assert result.threshold.value == choose_threshold(result.score_sample).value


def test_a_registry_of_one_party_takes_the_batch_links_cut(
        batches: dict[str, hm.EncodedBatch], tmp_path: Path) -> None:
    crm = batches["crm"].write(tmp_path / "crm.hme")
    batch = hm.link([batches["crm"]], dedup=True).threshold
    run = update(str(tmp_path / "reg.db"), [crm], dedup=True)
    assert run.threshold == pytest.approx(batch.value)
