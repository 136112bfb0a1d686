"""What a party's data file holds, judged from its first bytes: container, text encoding,
delimiter.

* **Container.** gzip (magic ``1f 8b``) is read through a decompressing stream, Parquet
  (magic ``PAR1``) through pyarrow; any other binary file (a ZIP archive such as an Excel
  workbook, an old ``.xls``, bzip2, xz, zstd, PDF, SQLite, a hashmatch ``.hme``, or bytes
  that are mostly control characters) is refused as "not a CSV file", never told to try
  another text encoding.
* **Text encoding.** A byte-order mark decides (UTF-8, UTF-16 or UTF-32, either byte
  order); without one, the NUL bytes of mostly-ASCII UTF-16/32 text give the encoding away.
  When the caller asked for UTF-8 (the default) such a file is read as what it is; when
  it asked for another encoding that contradicts the bytes, the error names the exact
  ``--input-encoding`` to pass.
* **Delimiter.** Sniffed among ``, ; TAB |`` from the first 16 KiB unless given.

Messages name the file and what was found, never any content.
"""

from __future__ import annotations

import codecs
import csv

from hashmatch.errors import InputDataError

DELIMITERS = ",;\t|"
#: Names accepted for ``--delimiter`` besides the character itself (a shell makes a tab
#: hard to type).
DELIMITER_NAMES = {
    "comma": ",",
    "semicolon": ";",
    "tab": "\t",
    "\\t": "\t",
    "pipe": "|",
}
#: The decode error handler of every reader: each undecodable byte becomes the lone
#: surrogate U+DC00 + byte (as ``surrogateescape`` does, which refuses bytes below 0x80,
#: such as those of a broken UTF-16 pair), so one bad byte costs one row, not the run.
UNDECODABLE = "hashmatch.undecodable"
_SNIFF_SAMPLE = 16 << 10  # bytes the delimiter is guessed from
_PROBE = 4096  # bytes the NUL patterns of UTF-16/32 are counted over

#: What to do with a file that is not a party's data.
NOT_CSV_HINT = "export the data as CSV (a gzip-compressed CSV or a Parquet file is read too)"
#: Magic numbers of formats that are not CSV, and how to get a CSV file out of them.
_NOT_CSV: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive, e.g. an Excel .xlsx workbook: save the sheet as CSV"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel .xls workbook: save the sheet as CSV"),
    (b"BZh", "a bzip2 file: decompress it, or compress it with gzip, which is read"),
    (b"\xfd7zXZ\x00", "an xz file: decompress it, or compress it with gzip, which is read"),
    (b"\x28\xb5\x2f\xfd", "a zstd file: decompress it, or compress it with gzip, which is read"),
    (b"%PDF-", "a PDF document"),
    (b"SQLite format 3\x00", "an SQLite database: export the table as CSV"),
    (b"ARROW1", "an Arrow/Feather file: write it as Parquet or CSV"),
    (b"\x89HME\r\n\x1a\n", "a hashmatch encoding (.hme) file: encode the party's CSV file"),
    (b"\x89HMSEAL\n", "a sealed hashmatch file: encode the party's CSV file"),
)
_BOMS: tuple[tuple[bytes, str], ...] = (  # UTF-32 first: its LE mark starts like UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: Control bytes that never occur in text (tab, line feed, vertical tab, form feed and
#: carriage return do; NUL does in some exports, padding cells).
_CONTROL = bytes([*range(0x01, 0x09), *range(0x0E, 0x20), 0x7F])


def _undecodable(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(chr(0xDC00 + b) for b in bad), exc.end


codecs.register_error(UNDECODABLE, _undecodable)


def container(head: bytes, file: str) -> str:
    """``"gzip"``, ``"parquet"`` or ``"text"`` for a file starting with ``head``.

    Raises
    ------
    InputDataError
        The file is another binary format (named when it is a known one).
    """
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"PAR1"):
        return "parquet"
    for magic, what in _NOT_CSV:
        if head.startswith(magic) and (magic != b"BZh" or head[4:10] == b"1AY&SY"):
            raise InputDataError(
                f"this is not a CSV file: it looks like {what}", file=file, hint=NOT_CSV_HINT
            )
    return "text"


def text_codec(head: bytes, given: str | None, file: str) -> str:
    """The Python codec to read a text file starting with ``head``, given the encoding the
    caller asked for (``None`` or UTF-8: whatever the bytes say, UTF-8 by default).

    Raises
    ------
    InputDataError
        ``given`` is not a known codec, it contradicts a byte-order mark or the NUL
        pattern of UTF-16/32 (the hint names the encoding to pass), or the bytes are not
        text at all.
    """
    codec = _lookup(given or "utf-8")
    found = _from_bom(head) or _from_nul_pattern(head)
    found_width = _width(found) if found else None
    if codec in ("utf-8", "utf-8-sig") or (found_width and found_width == _width(codec)):
        # What the bytes say wins over the default, and over the byte order of an
        # encoding of the same width (a byte-order mark is read by "utf-16"/"utf-32").
        codec = found or "utf-8-sig"  # utf-8-sig reads plain UTF-8 too, dropping a BOM
    elif found is not None:
        what = "a UTF-8 byte-order mark" if found == "utf-8-sig" else f"{_describe(found)} text"
        raise InputDataError(
            f"holds {what}, not {given}",
            file=file,
            hint=f"pass --input-encoding {'utf-8' if found == 'utf-8-sig' else found}",
        )
    if _width(codec):
        return codec
    if _looks_binary(head):
        raise InputDataError(
            "this is not a CSV file: it holds control bytes that text never has",
            file=file,
            hint=NOT_CSV_HINT,
        )
    return codec


def sniff_delimiter(head: bytes, codec: str, complete: bool) -> str:
    """The delimiter among ``, ; TAB |`` that splits the first lines alike (``,`` when in
    doubt). ``complete``: ``head`` is the whole file (else its last line may be cut)."""
    cut = head[:_SNIFF_SAMPLE]
    sample = codecs.getincrementaldecoder(codec)(errors="replace").decode(cut)
    lines = sample.splitlines()
    if (len(cut) < len(head) or not complete) and len(lines) > 1:
        sample = "\n".join(lines[:-1])  # the last line may be cut
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def parse_delimiter(text: str, file: str) -> str:
    """One delimiter character from ``--delimiter`` (``tab``, ``\\t``, ``;``...).

    Raises
    ------
    InputDataError
        Not one character (nor a known name), or a character that cannot delimit CSV.
    """
    delimiter = DELIMITER_NAMES.get(text.strip().casefold(), text)
    if len(delimiter) != 1:
        names = ", ".join(sorted(DELIMITER_NAMES))
        msg = f"the delimiter must be one character (or one of {names}), got {len(text)}"
        raise InputDataError(msg, file=file, hint="e.g. --delimiter ';' or --delimiter tab")
    if delimiter in '"\r\n' or delimiter.isalnum():
        msg = f"the delimiter cannot be {delimiter!r}: it is part of the CSV syntax or of values"
        raise InputDataError(msg, file=file, hint="e.g. --delimiter ';' or --delimiter tab")
    return delimiter


def _lookup(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        msg = f"unknown input encoding {encoding!r}"
        raise InputDataError(
            msg, hint="use a Python codec name such as utf-8, latin-1, cp1252, utf-16"
        ) from None


def _from_bom(head: bytes) -> str | None:
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec
    return None


def _from_nul_pattern(head: bytes) -> str | None:
    """UTF-16/32 without a byte-order mark, from where the NUL bytes of ASCII text fall:
    at one of each two (four) byte positions, in at least 8 characters, and nowhere else.
    A few NUL bytes in a short UTF-8 file do not make that pattern."""
    probe = head[: _PROBE - _PROBE % 4]
    probe = probe[: len(probe) - len(probe) % 4]

    def zeros(offset: int, step: int) -> int:
        return probe[offset::step].count(0)

    def share(offset: int, step: int) -> float:
        return zeros(offset, step) / (len(probe) // step)

    if len(probe) < 16 or probe.count(0) < 8:
        return None
    if min(share(1, 4), share(2, 4), share(3, 4)) > 0.9 and share(0, 4) < 0.1:
        return "utf-32-le"
    if min(share(0, 4), share(1, 4), share(2, 4)) > 0.9 and share(3, 4) < 0.1:
        return "utf-32-be"
    if share(1, 2) > 0.3 and zeros(1, 2) >= 8 and share(0, 2) < 0.05:
        return "utf-16-le"
    if share(0, 2) > 0.3 and zeros(0, 2) >= 8 and share(1, 2) < 0.05:
        return "utf-16-be"
    return None


def _width(codec: str) -> str | None:
    """``"utf-16"`` or ``"utf-32"`` for a codec of that family, else None."""
    return codec[:6] if codec.startswith(("utf-16", "utf-32")) else None


def _describe(codec: str) -> str:
    width = "UTF-32" if codec.startswith("utf-32") else "UTF-16"
    if codec.endswith("-le"):
        return f"{width} (little-endian)"
    if codec.endswith("-be"):
        return f"{width} (big-endian)"
    return width


def _looks_binary(head: bytes) -> bool:
    """A NUL or control byte in the first line, or control bytes other than NUL in more
    than 5% (and 64) of the first bytes.

    NUL bytes in cells happen (padding) and are read; a header row never holds one, and
    compressed or binary data is about 10% control bytes other than NUL everywhere.
    """
    sample = head[:_SNIFF_SAMPLE]
    if not sample:
        return False
    controls = len(sample) - len(sample.translate(None, _CONTROL))
    first_line = sample.split(b"\n", 1)[0]
    clean_first_line = len(first_line.translate(None, _CONTROL + b"\x00")) == len(first_line)
    return controls > max(64, 0.05 * len(sample)) or not clean_first_line
