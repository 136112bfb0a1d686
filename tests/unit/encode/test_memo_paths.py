"""Values met again in later chunks take the memo fast paths: same bits, same outcomes."""

from __future__ import annotations

import csv
import io

import numpy as np

from hashmatch.encode import encode_records

CSV = (
    "id,first_name,last_name,dob,email\n"
    "a1,Ann,Smith,1951-11-04,ann@acme.co.uk\n"
    "a2,Bob,N/A,1962-01-31,\n"
    "a3,Cy,,1970-05-05,cy@acme.co.uk\n"
    "a4,Ann,Brown,1980-02-31,di@acme.co.uk\n"
    "a5,Ed,Smith,1990,ann@acme.co.uk\n"
)


def _rows(times: int) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(CSV)))
    return [dict(r, id=f"{r['id']}-{i}") for i in range(times) for r in rows]


def test_repeated_values_across_chunks_encode_like_one_chunk(schema, secret) -> None:
    records = _rows(4)
    whole = encode_records(records, schema=schema, secret=secret, party="p", chunk_rows=10_000)
    # chunk_rows=3 does not divide the 5-row block, so chunks mix remembered and new values
    for chunk_rows in (1, 3, 5):
        parts = encode_records(
            records, schema=schema, secret=secret, party="p", chunk_rows=chunk_rows
        )
        np.testing.assert_array_equal(parts.clks, whole.clks)
        np.testing.assert_array_equal(parts.present, whole.present)
        for name, tokens in whole.tokens.items():
            np.testing.assert_array_equal(parts.tokens[name], tokens)
        assert parts.record_ids == whole.record_ids
        assert parts.rejects == whole.rejects
        assert parts.summary.fields == whole.summary.fields
    # every copy of a row gets the bits of its first copy
    np.testing.assert_array_equal(whole.clks[:3], whole.clks[9:12])  # 3 kept per copy
    assert [r.reason for r in whole.rejects[:2]] == [
        "required.placeholder:na",
        "required.empty",
    ]
    assert len(whole.rejects) == 4 * 2  # last_name is required: rows a2 and a3 of each copy


def test_memos_emptied_mid_chunk_change_nothing(schema, secret, monkeypatch) -> None:
    """The exact tokens' memo is bounded: emptied when a chunk's new values would overflow
    it, with the values the chunk had found there still answered."""
    from hashmatch.encode import encoder

    records = _rows(6)
    whole = encode_records(records, schema=schema, secret=secret, party="p", chunk_rows=4)
    monkeypatch.setattr(encoder, "_MEMO_LIMIT", 3)
    bounded = encode_records(records, schema=schema, secret=secret, party="p", chunk_rows=4)
    for name, tokens in whole.tokens.items():
        np.testing.assert_array_equal(bounded.tokens[name], tokens)
