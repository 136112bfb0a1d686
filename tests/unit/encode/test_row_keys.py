"""Row tokens are the record ids under the party's own row key: stable across runs with
the same key, unrelated across keys (parties), independent of the linkage secret."""

from __future__ import annotations

import csv
import stat
from pathlib import Path

import numpy as np
import pytest

from hashmatch.encode import LinkageSecret, encode_file, encode_records
from hashmatch.encode.keys import RowKey
from hashmatch.errors import SecretError

SCHEMA = {
    "version": 1,
    "clk": {"bits": 128},
    "fields": [{"name": "surname", "type": "name", "bloom": True}],
}
MAPPING = {"record_id": "id", "fields": {"surname": "surname"}}


def _csv(path: Path, ids: list[str]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "surname"])
        writer.writerows([rid, f"name{rid}"] for rid in ids)
    return path


def _lookup(path: Path) -> dict[str, str]:
    with path.open(newline="") as fh:
        return {row["record_id"]: row["row_token"] for row in csv.DictReader(fh)}


def test_a_second_run_reuses_the_row_key_and_keeps_every_token(tmp_path: Path) -> None:
    secret = LinkageSecret.generate()
    first = encode_file(_csv(tmp_path / "m0.csv", ["a", "b", "c"]), schema=SCHEMA,
                        secret=secret, party="p", out=tmp_path / "m0.hme",
                        lookup=tmp_path / "p.lookup", mapping=MAPPING)
    assert first.row_key == tmp_path / "p.rowkey" and first.row_key_created
    assert stat.S_IMODE(first.row_key.stat().st_mode) == 0o600
    before = _lookup(tmp_path / "p.lookup")
    # next month: one record gone, one new, rows in another order; same key file
    again = encode_file(_csv(tmp_path / "m1.csv", ["d", "c", "a"]), schema=SCHEMA,
                        secret=secret, party="p", out=tmp_path / "m1.hme",
                        lookup=tmp_path / "p1.lookup", mapping=MAPPING,
                        row_key=tmp_path / "p.rowkey")
    assert not again.row_key_created
    after = _lookup(tmp_path / "p1.lookup")
    assert after["a"] == before["a"] and after["c"] == before["c"]
    assert after["d"] not in before.values()


def test_tokens_depend_on_the_row_key_not_on_the_linkage_secret() -> None:
    rows = [{"surname": "Smith"}, {"surname": "Jones"}]
    key = RowKey(bytes(range(32)))

    def tokens(secret: LinkageSecret, row_key: RowKey | None) -> np.ndarray:
        return encode_records(rows, schema=SCHEMA, secret=secret, party="p",
                              row_key=row_key).row_tokens

    one, two = LinkageSecret.generate(), LinkageSecret.generate()
    assert np.array_equal(tokens(one, key), tokens(two, key))  # same key, other secret
    other = tokens(one, RowKey(bytes(32)))  # another party's key: unrelated tokens
    assert not np.any((other[:, None, :] == tokens(one, key)[None, :, :]).all(axis=2))
    fresh = encode_records(rows, schema=SCHEMA, secret=one, party="p")
    assert fresh.row_key is not None  # no key given: a fresh one, kept on the batch
    assert np.array_equal(fresh.row_key.tokens(["1", "2"]), fresh.row_tokens)


def test_a_failed_run_leaves_no_row_key(tmp_path: Path) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("id,surname\n,\n")
    with pytest.raises(Exception, match="row"):
        encode_file(data, schema={**SCHEMA, "fields": [{**SCHEMA["fields"][0],
                                                         "required": True}]},
                    secret=LinkageSecret.generate(), party="p", out=tmp_path / "p.hme",
                    mapping=MAPPING, fail_fast=True)
    assert not (tmp_path / "p.rowkey").exists()


def test_row_key_files_are_checked_like_secrets(tmp_path: Path) -> None:
    path = tmp_path / "p.rowkey"
    RowKey.generate().write(path)
    assert RowKey.load(path).tokens(["x"]).shape == (1, 16)
    with pytest.raises(SecretError, match="refusing to overwrite a row key"):
        RowKey.generate().write(path)
    LinkageSecret.generate().write(tmp_path / "k.secret")
    with pytest.raises(SecretError, match="not a hashmatch row key file"):
        RowKey.load(tmp_path / "k.secret")
    path.chmod(0o644)
    with pytest.raises(SecretError, match="row key file .* expected 0600"):
        RowKey.load(path)
    assert "<hidden>" in repr(RowKey(bytes(32)))
