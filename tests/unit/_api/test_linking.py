"""hm.link: batches, .hme files or a mix in; a LinkResult with the caller's ids out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hashmatch as hm
from hashmatch._api import linking
from hashmatch.errors import HashmatchError, IncompatibleEncodingsError, SecretMismatchError
from hashmatch.link import link_encodings


def _linked(result: hm.LinkResult) -> set[tuple[str, str]]:
    """(crm id, calls id) pairs sharing an entity, from the held record ids."""
    crm, calls = result.held
    assert crm is not None and calls is not None
    a, b = result.entities
    return {
        (crm.record_ids[i], calls.record_ids[j])
        for i in range(len(a))
        for j in range(len(b))
        if a[i] == b[j]
    }


def test_batches_link_the_same_people(crm_batch, calls_batch, facade_parties) -> None:
    result = hm.link([crm_batch, calls_batch], threshold=facade_parties.threshold)
    assert isinstance(result, hm.LinkResult)
    assert result.party_names == ("crm", "calls")
    assert _linked(result) == facade_parties.same_person


def test_probabilistic_scoring_from_a_notebook(crm_batch, calls_batch, facade_parties) -> None:
    fitted = hm.link([crm_batch, calls_batch], scoring="fs")
    assert fitted.threshold.method == "probability"
    assert fitted.model is not None and fitted.estimated is not None
    assert _linked(fitted) == facade_parties.same_person
    # a model fitted once is reused as is: no fitting, the same entities
    again = hm.link([crm_batch, calls_batch], scoring="fs", model={"model": fitted.model})
    assert again.model == fitted.model
    assert _linked(again) == facade_parties.same_person


def test_files_and_batches_give_the_same_entities(
    crm_batch, calls_batch, facade_parties, tmp_path
) -> None:
    threshold = facade_parties.threshold
    crm_batch.write(tmp_path / "crm.hme")
    calls_batch.write(tmp_path / "calls.hme")
    from_batches = hm.link([crm_batch, calls_batch], threshold=threshold)
    from_files = hm.link([tmp_path / "crm.hme", str(tmp_path / "calls.hme")], threshold=threshold)
    mixed = hm.link([crm_batch, tmp_path / "calls.hme"], threshold=threshold)
    for other in (from_files, mixed):
        # entity numbers are keyed by the inputs' digests; compare the partitions
        for mine, theirs in zip(from_batches.entities, other.entities, strict=True):
            assert len(mine) == len(theirs)
        pairs = {(i, j) for i, j in zip(*_pairs(from_batches), strict=True)}
        assert pairs == {(i, j) for i, j in zip(*_pairs(other), strict=True)}
    assert from_files.held == (None, None)
    assert mixed.held[0] is not None and mixed.held[1] is None
    assert from_files.parties[1].source == str(tmp_path / "calls.hme")


def _pairs(result: hm.LinkResult) -> tuple[np.ndarray, np.ndarray]:
    a, b = result.entities
    i, j = np.nonzero(a[:, None] == b[None, :])
    return i, j


def test_the_pipeline_never_sees_record_ids(crm_batch, calls_batch, monkeypatch) -> None:
    threshold = 0.6
    seen = []

    def spy(encodings, **kw):
        seen.extend(encodings)
        return link_encodings(encodings, **kw)

    monkeypatch.setattr(linking, "link_encodings", spy)
    hm.link([crm_batch, calls_batch], threshold=threshold)
    assert len(seen) == 2
    assert not [e for e in seen if hasattr(e, "record_ids") or hasattr(e, "rejects")]


def test_held_records_come_from_the_batches(crm_batch, calls_batch) -> None:
    threshold = 0.6
    crm, calls = hm.link([crm_batch, calls_batch], threshold=threshold).held
    assert list(crm.record_ids) == ["c1", "c2", "c3", "c4", "c5"]
    assert crm.row_numbers.tolist() == [1, 2, 3, 4, 5]
    assert crm.rejected_rows.tolist() == [6]
    assert list(crm.reject_reasons) == ["required.empty (last_name)"]
    assert calls.rejected_rows.tolist() == []


def test_dedup_of_one_batch(facade_parties, facade_secret) -> None:
    rows = facade_parties.calls_records()
    twice = rows + [dict(rows[0], caller="k1-again")]
    batch = hm.encode(
        twice,
        schema=facade_parties.schema,
        secret=facade_secret,
        party="calls",
        mapping=facade_parties.calls_mapping,
    )
    result = hm.link([batch], dedup=True, threshold=0.9)
    (entities,) = result.entities
    assert entities[0] == entities[-1] and len(set(entities.tolist())) == len(rows)


def test_one_input_without_dedup_is_refused(crm_batch) -> None:
    with pytest.raises(IncompatibleEncodingsError, match="at least two"):
        hm.link([crm_batch])


def test_other_secrets_are_refused_naming_the_parties(crm_batch, facade_parties) -> None:
    other = hm.encode(
        facade_parties.calls_records(),
        schema=facade_parties.schema,
        secret=hm.LinkageSecret(bytes(32)),
        party="calls",
        mapping=facade_parties.calls_mapping,
    )
    with pytest.raises(SecretMismatchError, match="calls"):
        hm.link([crm_batch, other])


@pytest.mark.parametrize("bad", ["crm.hme", Path("crm.hme"), 42])
def test_inputs_must_be_a_list(bad) -> None:
    with pytest.raises(TypeError, match="list of EncodedBatch"):
        hm.link(bad)


def test_items_must_be_batches_or_paths(crm_batch) -> None:
    with pytest.raises(HashmatchError, match="cannot link a dict"):
        hm.link([crm_batch, {"clks": 1}])
