"""Telling what a data file holds from its first bytes: container, text encoding, delimiter."""

from __future__ import annotations

import codecs
import gzip
import random

import pytest

from hashmatch.encode.sources.detect import (
    container,
    parse_delimiter,
    sniff_delimiter,
    text_codec,
)
from hashmatch.errors import InputDataError

TEXT = "id,first_name,dob\r\n1,Zoë,1980-11-22\r\n2,Ann,1979-01-02\r\n"


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (gzip.compress(TEXT.encode(), mtime=0), "gzip"),
        (b"PAR1\x15\x04", "parquet"),
        (TEXT.encode(), "text"),
        (b"BZh is a column", "text"),  # "BZh" alone is no bzip2 stream
    ],
    ids=["gzip", "parquet", "csv", "bzh-text"],
)
def test_containers_read(head: bytes, kind: str) -> None:
    assert container(head, "f") == kind


@pytest.mark.parametrize(
    ("head", "what"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00", "Excel .xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00", "old Excel .xls"),
        (b"BZh91AY&SY\x00", "bzip2"),
        (b"\xfd7zXZ\x00\x00", "xz"),
        (b"\x28\xb5\x2f\xfd\x00", "zstd"),
        (b"%PDF-1.7\n", "PDF"),
        (b"SQLite format 3\x00", "SQLite"),
        (b"\x89HME\r\n\x1a\n\x01", "hashmatch encoding"),
        (b"\x89HMSEAL\n\x01", "sealed hashmatch"),
    ],
)
def test_other_formats_are_not_csv_and_say_what_they_are(head: bytes, what: str) -> None:
    with pytest.raises(InputDataError, match=f"this is not a CSV file: .*{what}") as err:
        container(head, "x.csv")
    assert "file x.csv" in str(err.value) and "--input-encoding" not in str(err.value)


@pytest.mark.parametrize(
    ("encoded", "codec"),
    [
        (TEXT.encode(), "utf-8-sig"),
        (codecs.BOM_UTF8 + TEXT.encode(), "utf-8-sig"),
        (TEXT.encode("utf-16"), "utf-16"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16"),
        (TEXT.encode("utf-32"), "utf-32"),
        (codecs.BOM_UTF32_BE + TEXT.encode("utf-32-be"), "utf-32"),
        (TEXT.encode("utf-16-le"), "utf-16-le"),
        (TEXT.encode("utf-16-be"), "utf-16-be"),
        (TEXT.encode("utf-32-le"), "utf-32-le"),
        (TEXT.encode("utf-32-be"), "utf-32-be"),
    ],
)
def test_utf_16_and_32_are_read_as_what_they_are(encoded: bytes, codec: str) -> None:
    assert text_codec(encoded, None, "f") == codec
    assert text_codec(encoded, "utf-8", "f") == codec  # the default asks for "UTF-8"
    assert encoded.decode(codec).lstrip("\ufeff") == TEXT  # and decodes to the text
    if codec.startswith("utf-16"):  # another byte order of the same width: the bytes win
        assert text_codec(encoded, "utf-16-be", "f") == codec


@pytest.mark.parametrize(
    ("encoded", "option"),
    [
        (TEXT.encode("utf-16"), "utf-16"),
        (TEXT.encode("utf-16-be"), "utf-16-be"),
        (TEXT.encode("utf-32-le"), "utf-32-le"),
        (codecs.BOM_UTF8 + TEXT.encode(), "utf-8"),
    ],
)
def test_an_encoding_the_bytes_contradict_is_refused_with_the_one_to_pass(
    encoded: bytes, option: str
) -> None:
    with pytest.raises(InputDataError, match="not latin-1") as err:
        text_codec(encoded, "latin-1", "f")
    assert err.value.hint == f"pass --input-encoding {option}"
    if option.startswith("utf-32"):
        with pytest.raises(InputDataError, match="UTF-32"):
            text_codec(encoded, "utf-16", "f")


def test_binary_bytes_are_not_a_csv_file_whatever_the_encoding() -> None:
    noise = random.Random(7).randbytes(50_000)
    for given in (None, "latin-1", "cp1252"):
        with pytest.raises(InputDataError, match="this is not a CSV file") as err:
            text_codec(noise, given, "f")
        assert "--input-encoding" not in str(err.value) + (err.value.hint or "")
    with pytest.raises(InputDataError, match="not a CSV file"):  # a NUL in the header
        text_codec(b"id,na\x00me\n1,2\n", None, "f")


def test_a_few_nul_bytes_in_cells_are_text() -> None:
    rows = "".join(f"{i},Ann\x00{i},x\n" for i in range(100))
    assert text_codec(f"id,name,z\n{rows}".encode(), None, "f") == "utf-8-sig"
    assert text_codec("name\nJos\xe9\n".encode("latin-1"), "latin-1", "f") == "iso8859-1"


def test_unknown_encoding() -> None:
    with pytest.raises(InputDataError, match="unknown input encoding 'nope-8'"):
        text_codec(b"a\n", "nope-8", "f")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_sniffed(delimiter: str) -> None:
    text = TEXT.replace(",", delimiter) + f'3{delimiter}"Smith, J"{delimiter}1970-01-01\n'
    assert sniff_delimiter(text.encode(), "utf-8-sig", True) == delimiter
    assert sniff_delimiter(text.encode("utf-16"), "utf-16", True) == delimiter


@pytest.mark.parametrize(
    ("given", "delimiter"),
    [(";", ";"), ("tab", "\t"), ("\\t", "\t"), ("TAB", "\t"), ("\t", "\t"), ("pipe", "|")],
)
def test_delimiter_option(given: str, delimiter: str) -> None:
    assert parse_delimiter(given, "f") == delimiter


@pytest.mark.parametrize("given", ["||", "", '"', "a", "\n"])
def test_bad_delimiter_option(given: str) -> None:
    with pytest.raises(InputDataError, match="delimiter"):
        parse_delimiter(given, "f")
