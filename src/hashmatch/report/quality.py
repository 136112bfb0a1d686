"""The parties' data-quality counts for the report (``link --encode-report``).

A party runs ``hashmatch profile DATA --schema ... --mapping ... --json > crm.profile.json``
on its own machine: per field, rows filled, valid, missing and invalid by reason code,
never a value. The coordinator passes those files to ``hashmatch link --encode-report``;
this module reads them, keeps only the counts the report draws (anything else in the
file is dropped, so nothing unexpected travels into report.json), and names each by its
party: ``PARTY=FILE``, or the file name up to its first dot (``crm.profile.json``: crm).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hashmatch.errors import InputDataError

__all__ = ["read_quality"]


def read_quality(specs: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``{party: counts}`` from ``[PARTY=]FILE`` specs.

    Raises
    ------
    InputDataError
        A file cannot be read, is not a profile, or names a party twice.
    """
    out: dict[str, dict[str, Any]] = {}
    for spec in specs:
        party, sep, path = spec.partition("=")
        if not sep:
            path, party = spec, Path(spec).name.split(".", 1)[0]
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            msg = f"cannot read the data-quality file ({type(exc).__name__})"
            raise InputDataError(msg, file=path) from None
        counts = _counts(doc)
        if counts is None:
            msg = "not a data-quality profile (expected the output of hashmatch profile --json)"
            raise InputDataError(msg, file=path)
        if party in out:
            raise InputDataError(f"party {party!r} is given twice", file=path)
        out[party] = counts
    return out


def _int(x: Any) -> int:
    return int(x) if isinstance(x, int) and not isinstance(x, bool) and x >= 0 else 0


def _reasons(x: Any) -> dict[str, int]:
    if not isinstance(x, Mapping):
        return {}
    return {str(k)[:64]: _int(v) for k, v in x.items() if _int(v)}


def _counts(doc: Any) -> dict[str, Any] | None:
    if not isinstance(doc, Mapping) or not isinstance(doc.get("fields"), Mapping):
        return None
    fields = {}
    for name, f in doc["fields"].items():
        if not isinstance(f, Mapping):
            return None
        fields[str(name)[:64]] = {
            "absent": bool(f.get("absent", False)),
            "filled": _int(f.get("filled")),
            "valid": _int(f.get("valid")),
            "missing": _reasons(f.get("missing")),
            "invalid": _reasons(f.get("invalid")),
        }
    return {
        "rows_read": _int(doc.get("rows_read")),
        "rows_usable": _int(doc.get("rows_usable")),
        "fields": fields,
    }
