"""encode_file / encode_records: accounting, rejects, determinism, atomic outputs, errors."""

from __future__ import annotations

import csv
import gzip
import io
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from hashmatch.encfile import EncodingFile
from hashmatch.encode import LinkageSecret, encode_file, encode_records
from hashmatch.errors import HashmatchError, InputDataError, MappingError, OutputError
from hashmatch.schema import Schema

DATES = {"dob": {"date_formats": ["%Y-%m-%d", "%Y"]}}
MAPPING = {"record_id": "id", "fields": DATES}


def _encode(path: Path, schema: Schema, secret: LinkageSecret, tmp: Path, **kw: object):
    return encode_file(
        path,
        schema=schema,
        secret=secret,
        party="p",
        out=tmp / "p.hme",
        **kw,  # type: ignore[arg-type]
    )


def _lookup(path: Path) -> dict[str, str]:
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["row_token", "record_id"]
    return {token: rid for token, rid in rows[1:]}


def test_file_lookup_and_rejects(party_csv, schema, secret, tmp_path) -> None:
    s = _encode(party_csv, schema, secret, tmp_path, mapping=MAPPING)
    assert (s.read, s.encoded, s.rejected) == (5, 4, 1)
    assert s.reject_reasons == {"required.empty": 1}
    assert s.fields["dob"].invalid == {"date.impossible": 1}
    f = EncodingFile.open(s.output)
    assert f.header.rows == 4 and f.header.party == "p"
    assert f.header.schema_fingerprint == schema.fingerprint
    assert f.header.secret_commitment == secret.commitment()
    assert f.header.token_names == ("email", "ln_yob", "blk")
    lookup = _lookup(s.lookup)
    ids = [lookup[t.tobytes().hex()] for t in np.asarray(f.row_tokens)]
    assert ids == ["a1", "a2", "a4", "a5"]
    assert s.lookup.stat().st_mode & 0o777 == 0o600
    assert s.rejects.read_text().splitlines() == ["row,column,reason", "3,last_name,required.empty"]
    present = np.asarray(f.present)
    assert present[:, 2].tolist() == [True, True, False, True]  # 31 February: invalid
    assert present[:, 3].tolist() == [True, False, True, True]  # no e-mail for a2
    email = np.asarray(f.token("email"))
    assert not email[1].any() and email[0].any()


def test_default_record_id_is_the_data_row_number(party_csv, schema, secret, tmp_path) -> None:
    s = _encode(party_csv, schema, secret, tmp_path)
    assert sorted(_lookup(s.lookup).values()) == ["1", "2", "4", "5"]


def test_year_only_date_shares_year_bits_and_match_key(schema, secret) -> None:
    rows = [
        {"last_name": "Green", "dob": "1990-06-07"},
        {"last_name": "Green", "dob": "1990"},
        {"last_name": "Green", "dob": "1991"},
    ]
    b = encode_records(rows, schema=schema, secret=secret, party="p", mapping={"fields": DATES})
    seg = next(s for s in schema.segments if s.field == "dob")
    bits = np.unpackbits(b.clks.astype("<u8").view(np.uint8), axis=1, bitorder="little")
    dob = bits[:, seg.start : seg.start + seg.bits].astype(bool)
    assert (dob[1] <= dob[0]).all() and dob[1].any()  # year bits are a subset
    assert (dob[2] != dob[1]).any()
    ln_yob = b.tokens["ln_yob"]
    assert (ln_yob[0] == ln_yob[1]).all() and (ln_yob[1] != ln_yob[2]).any()


def test_missing_parts_make_missing_keys_and_empty_segments(schema, secret) -> None:
    b = encode_records(
        [{"last_name": "Smith"}], schema=schema, secret=secret, party="p"
    )  # no dob, e-mail or first-name columns: absent fields
    assert not b.tokens["ln_yob"].any() and not b.tokens["email"].any()
    assert b.tokens["blk"].any()
    assert b.present.tolist() == [[False, True, False, False]]
    assert set(b.summary.absent_fields) == {"first_name", "dob", "email"}
    seg = next(s for s in schema.segments if s.field == "first_name")
    bits = np.unpackbits(b.clks.astype("<u8").view(np.uint8), bitorder="little")
    assert not bits[seg.start : seg.start + seg.bits].any()


def test_same_bits_for_file_records_dataframe_and_any_chunk_size(
    party_csv, schema, secret, tmp_path
) -> None:
    pd = pytest.importorskip("pandas")
    s = _encode(party_csv, schema, secret, tmp_path, chunk_rows=2, mapping={"fields": DATES})
    f = EncodingFile.open(s.output)
    with party_csv.open(newline="") as fh:
        records = list(csv.DictReader(fh))
    frame = pd.read_csv(party_csv, dtype=str)  # empty cells become NaN
    for batch in (
        encode_records(records, schema=schema, secret=secret, party="p", mapping={"fields": DATES}),
        encode_records(
            frame, schema=schema, secret=secret, party="p", chunk_rows=3, mapping={"fields": DATES}
        ),
    ):
        assert np.array_equal(batch.clks, np.asarray(f.clks))
        for name in schema.exact_token_names:
            assert np.array_equal(batch.tokens[name], np.asarray(f.token(name)))
        assert np.array_equal(batch.present, np.asarray(f.present))
        assert [r.row for r in batch.rejects] == [3]


def test_row_tokens_are_random_per_run(party_csv, schema, secret) -> None:
    a = encode_records([{"last_name": "x"}] * 3, schema=schema, secret=secret, party="p")
    b = encode_records([{"last_name": "x"}] * 3, schema=schema, secret=secret, party="p")
    assert len({t.tobytes() for t in np.concatenate([a.row_tokens, b.row_tokens])}) == 6
    assert np.array_equal(a.clks, b.clks)


def test_different_secrets_give_different_bits(schema, secret) -> None:
    rows = [{"last_name": "Smith", "dob": "1951-11-04"}]
    a = encode_records(rows, schema=schema, secret=secret, party="p")
    b = encode_records(rows, schema=schema, secret=LinkageSecret(bytes(32)), party="p")
    assert (a.clks != b.clks).any() and (a.tokens["ln_yob"] != b.tokens["ln_yob"]).any()


def test_bad_rows_are_reported_and_accounted(schema, secret, tmp_path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(
        b"first_name,last_name,dob\n"
        b"Ann,Smith,1951-11-04\n"
        b"Bob,Jones\n"  # too few cells
        b"Cy,M\xfcller,1970-01-01\n"  # latin-1 byte in a UTF-8 file
        b"\n"  # blank line: not a row
        b"Di,Brown,1980-01-01,extra\n"
        b"Ed,Green,1990\n"
    )
    s = _encode(path, schema, secret, tmp_path)
    assert (s.read, s.encoded, s.rejected) == (5, 2, 3)
    lines = s.rejects.read_text().splitlines()
    assert lines == [
        "row,column,reason",
        "2,,row.column_count",
        "3,last_name,row.undecodable",
        "4,,row.column_count",
    ]


def test_fail_fast_stops_and_writes_nothing(party_csv, schema, secret, tmp_path) -> None:
    with pytest.raises(InputDataError, match="row 3.*last_name.*required.empty"):
        _encode(party_csv, schema, secret, tmp_path, fail_fast=True)
    assert list(tmp_path.iterdir()) == [party_csv]


def test_max_rejects(party_csv, schema, secret, tmp_path) -> None:
    with pytest.raises(InputDataError, match="more than 0 rows rejected"):
        _encode(party_csv, schema, secret, tmp_path, max_rejects=0)
    assert _encode(party_csv, schema, secret, tmp_path, max_rejects=1).rejected == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"  \n\n", "empty"),
        (b"first_name,last_name\n", "header but no data rows"),
        (b"PK\x03\x04\x14\x00\x06\x00", "not a CSV file: it looks like a ZIP archive"),
        (b"\x1f\x8b\x08\x00garbage", "gzip"),
    ],
)
def test_unusable_files(schema, secret, tmp_path, content: bytes, message: str) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(InputDataError, match=message) as info:
        _encode(path, schema, secret, tmp_path)
    assert str(path) in str(info.value)
    assert not (tmp_path / "p.hme").exists()


def test_missing_mapped_column_names_it(party_csv, schema, secret, tmp_path) -> None:
    with pytest.raises(MappingError, match="surname"):
        _encode(party_csv, schema, secret, tmp_path, mapping={"fields": {"last_name": "surname"}})


def test_undecodable_header_suggests_input_encoding(schema, secret, tmp_path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"last_name,Gr\xfc\xdfe\nx,y\n")
    with pytest.raises(InputDataError) as info:
        _encode(path, schema, secret, tmp_path)
    assert "--input-encoding" in (info.value.hint or "")
    s = _encode(path, schema, secret, tmp_path, input_encoding="latin-1")
    assert s.encoded == 1


def test_outputs_must_differ_from_input(party_csv, schema, secret) -> None:
    before = party_csv.read_bytes()
    for force in (False, True):  # never over an input, not even with force
        with pytest.raises(OutputError, match="also an input of this command"):
            encode_file(
                party_csv,
                schema=schema,
                secret=secret,
                party="p",
                out=party_csv.with_suffix(".hme"),
                lookup=party_csv,
                force=force,
            )
    assert party_csv.read_bytes() == before


def test_batch_write_round_trips(schema, secret, tmp_path) -> None:
    b = encode_records(
        [{"last_name": "Smith"}, {"last_name": "Jones"}], schema=schema, secret=secret, party="p"
    )
    b.write(tmp_path / "b.hme", lookup=tmp_path / "b.lookup")
    f = EncodingFile.open(tmp_path / "b.hme")
    assert np.array_equal(np.asarray(f.clks), b.clks)
    assert sorted(_lookup(tmp_path / "b.lookup").values()) == ["1", "2"]


def test_record_ids_needing_csv_quotes_round_trip(schema, secret, tmp_path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('id,last_name\n"a,1",Smith\n"b""2",Jones\nc3,Brown\n')
    s = _encode(path, schema, secret, tmp_path, mapping={"record_id": "id"})
    assert sorted(_lookup(s.lookup).values()) == ["a,1", 'b"2', "c3"]


def test_missing_output_directory_is_a_clear_error(party_csv, schema, secret, tmp_path) -> None:
    with pytest.raises(HashmatchError, match="does not exist"):
        encode_file(
            party_csv, schema=schema, secret=secret, party="p", out=tmp_path / "no" / "p.hme"
        )


# -- encode_records (hm.encode) on each kind of input, and what a batch reports -------


def _same_encodings(a, b) -> None:
    assert a.record_ids == b.record_ids
    assert np.array_equal(a.clks, b.clks) and np.array_equal(a.present, b.present)
    assert a.tokens.keys() == b.tokens.keys()
    assert all(np.array_equal(a.tokens[k], b.tokens[k]) for k in a.tokens)
    assert a.rejects == b.rejects


def test_records_from_every_kind_of_input_agree(party_csv, schema, secret, tmp_path) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(party_csv, dtype=str)
    frame.to_parquet(tmp_path / "party.parquet")
    kw = {"schema": schema, "secret": secret, "party": "p", "mapping": MAPPING}
    from_csv = encode_records(party_csv, **kw)
    from_str_path = encode_records(str(party_csv), **kw)
    from_frame = encode_records(frame, **kw)
    from_dicts = encode_records(frame.to_dict("records"), **kw)
    from_parquet = encode_records(tmp_path / "party.parquet", **kw)
    for batch in (from_str_path, from_frame, from_dicts, from_parquet):
        _same_encodings(from_csv, batch)
    assert from_csv.record_ids == ["a1", "a2", "a4", "a5"]


def test_csv_path_gives_the_bytes_encode_file_writes(party_csv, schema, secret, tmp_path) -> None:
    batch = encode_records(party_csv, schema=schema, secret=secret, party="p", mapping=MAPPING)
    summary = _encode(party_csv, schema, secret, tmp_path, mapping=MAPPING)
    f = EncodingFile.open(summary.output)
    assert np.array_equal(np.asarray(f.clks), batch.clks)
    assert batch.summary.read == summary.read and batch.summary.rejected == summary.rejected


def test_batch_reports_rejected_rows_by_number_and_reason(party_csv, schema, secret) -> None:
    batch = encode_records(party_csv, schema=schema, secret=secret, party="p", mapping=MAPPING)
    assert batch.rows == 4
    assert batch.rejected_rows.tolist() == [3]
    assert batch.row_numbers.tolist() == [1, 2, 4, 5]  # aligned with record_ids
    assert batch.reject_reasons() == ["required.empty (last_name)"]


def test_rows_without_a_record_id_are_rejected_and_reported(schema, secret) -> None:
    rows = [
        {"id": "x1", "last_name": "Smith"},
        {"id": "", "last_name": "Jones"},
        {"id": "x3", "last_name": ""},
    ]
    batch = encode_records(rows, schema=schema, secret=secret, party="p", mapping=MAPPING)
    assert batch.record_ids == ["x1"]
    assert batch.rejected_rows.tolist() == [2, 3]
    assert batch.reject_reasons() == ["record_id.empty (id)", "required.empty (last_name)"]


def test_batch_repr_is_short_and_names_no_value(party_csv, schema, secret) -> None:
    batch = encode_records(party_csv, schema=schema, secret=secret, party="crm", mapping=MAPPING)
    text = repr(batch)
    assert text.startswith("EncodedBatch(party='crm', rows=4, rejected=1 (required.empty: 1)")
    assert "clk_bits=256" in text and schema.fingerprint[:19] in text
    assert len(text) < 300
    html = batch._repr_html_()
    assert "<table>" in html and "last_name" in html and "required.empty" in html
    values = ("Smith", "Jones", "Brown", "acme", "a1", "1951")  # words, not inside hex
    assert not [v for v in values if re.search(rf"\b{v}\b", text + html)]


def test_parquet_errors_name_the_file_never_a_value(schema, secret, tmp_path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not a parquet file at all")
    with pytest.raises(InputDataError, match="cannot be read as Parquet") as info:
        encode_records(bad, schema=schema, secret=secret, party="p")
    assert str(bad) in str(info.value)
    with pytest.raises(InputDataError, match="file not found"):
        encode_records(tmp_path / "missing.parquet", schema=schema, secret=secret, party="p")


def test_pipeline_docstring_examples_run() -> None:
    import doctest

    import hashmatch.encode.pipeline as pipeline

    result = doctest.testmod(pipeline)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("chunk_rows", [1, 2, 50])
def test_later_rows_with_an_earlier_id_are_rejected(
    party_csv, schema, secret, tmp_path, chunk_rows
) -> None:
    path = tmp_path / "dup.csv"
    lines = party_csv.read_text().splitlines()
    lines += ["a2,Bo,Jones,1962-01-31,", " a1 ,Ann,Smith,1951-11-04,", "a3,Cy,Black,1970,"]
    path.write_text("\n".join(lines) + "\n")
    s = _encode(path, schema, secret, tmp_path, mapping=MAPPING, chunk_rows=chunk_rows)
    assert (s.read, s.encoded, s.rejected) == (8, 4, 4)
    # Row 3 (a3) is rejected for its last name, yet it keeps its id: row 8 is a duplicate.
    assert s.rejects.read_text().splitlines() == [
        "row,column,reason",
        "3,last_name,required.empty",
        "6,id,record_id.duplicate",
        "7,id,record_id.duplicate",
        "8,id,record_id.duplicate",
    ]
    assert sorted(_lookup(s.lookup).values()) == ["a1", "a2", "a4", "a5"]  # each id once
    batch = encode_records(
        [dict(zip(lines[0].split(","), line.split(","), strict=True)) for line in lines[1:]],
        schema=schema, secret=secret, party="p", mapping=MAPPING,
    )  # fmt: skip
    assert batch.record_ids == ["a1", "a2", "a4", "a5"]


def test_a_file_with_no_row_encoded_is_an_error_and_writes_nothing(
    schema, secret, tmp_path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,first_name,last_name\n1,Ann,\n2,Bob,\n3,Cy\n")
    with pytest.raises(InputDataError) as err:
        _encode(path, schema, secret, tmp_path, mapping={"record_id": "id"})
    assert str(err.value) == (
        f"file {path}: no row was encoded: all 3 rows were rejected "
        "(required.empty 2, row.column_count 1); nothing was written"
    )
    assert "hashmatch profile" in (err.value.hint or "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]
    with pytest.raises(InputDataError, match="no row was encoded"):
        encode_records([{"last_name": ""}], schema=schema, secret=secret, party="p")


def test_gzip_and_standard_input_give_the_plain_file_s_rows(
    party_csv, schema, secret, tmp_path, monkeypatch
) -> None:
    packed = tmp_path / "party.csv.gz"
    packed.write_bytes(gzip.compress(party_csv.read_bytes()))
    expected = _encode(party_csv, schema, secret, tmp_path, mapping=MAPPING)
    clks = np.array(EncodingFile.open(expected.output).clks)  # a copy: the file is rewritten
    for data in (packed, "-"):
        monkeypatch.setattr(
            sys, "stdin", SimpleNamespace(buffer=io.BytesIO(party_csv.read_bytes()))
        )
        s = _encode(data, schema, secret, tmp_path, mapping=MAPPING, force=True)
        assert (s.read, s.encoded, s.reject_reasons) == (5, 4, expected.reject_reasons)
        assert sorted(_lookup(s.lookup).values()) == ["a1", "a2", "a4", "a5"]
        assert np.array_equal(EncodingFile.open(s.output).clks, clks)
