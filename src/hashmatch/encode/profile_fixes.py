"""The fix ``hashmatch profile`` names for a field under 90% valid.

A party's data-quality profile counts, per field, why values were missing or invalid
(reason codes). For a field that is valid in fewer than :data:`VALID_SHARE` of the rows,
:func:`suggest_fix` names the change most likely to help, judged from the dominant reason
and, where the mapping is the cause, from the shapes of a sample of the column's values
(the same judgement as ``schema new``: :mod:`hashmatch.schema.regions`,
:mod:`hashmatch.schema.column_guess`): the phone region the numbers fit, the date formats
that parse them, a column that looks like the missing field. Fixes hold region codes,
formats and column names, never a value.
"""

from __future__ import annotations

from collections.abc import Sequence

from hashmatch.encode.records import FieldStats
from hashmatch.schema import regions
from hashmatch.schema.column_guess import guess_from_name, profile_values
from hashmatch.schema.model import ColumnSource

__all__ = ["VALID_SHARE", "suggest_fix"]

#: Fields valid in fewer rows than this get a fix.
VALID_SHARE = 0.9


def suggest_fix(
    name: str,
    field_type: str,
    stats: FieldStats,
    rows: int,
    sample: Sequence[str],
    source: ColumnSource | None,
    header: Sequence[str] = (),
) -> str | None:
    """The fix for one field, or None when it is valid in at least VALID_SHARE of ``rows``.

    ``sample``: raw cells of the field's (first) column, in memory only; ``source``: how
    the mapping reads the field (None when the file has no column for it); ``header``: the
    file's columns, to point at one that looks like an absent field.
    """
    if rows <= 0 or stats.valid >= VALID_SHARE * rows:
        return None
    if stats.absent or source is None:
        return _absent(name, header)
    reasons = stats.invalid + stats.missing
    if not reasons:
        return None
    reason, count = reasons.most_common(1)[0]
    share = count / rows
    if reason == "phone.no_region" or reason == "phone.invalid":
        return _phone(name, reason, sample, source)
    if reason == "date.format" or reason == "date.impossible":
        return _dates(name, reason, sample, source)
    return _OTHER.get(reason, _OTHER_MISSING).format(name=name, share=share, reason=reason)


def _absent(name: str, header: Sequence[str]) -> str:
    role = (guess_from_name(name) or (name, ""))[0]
    candidates = [c for c in header if (guess_from_name(c) or ("", ""))[0] == role]
    if candidates:
        return (
            f"no column is mapped to {name}; column {candidates[0]!r} looks like one: "
            f'map it ([fields.{name}] column = "{candidates[0]}")'
        )
    return f"no column is mapped to {name}: map one in the mapping, or leave it missing"


def _phone(name: str, reason: str, sample: Sequence[str], source: ColumnSource) -> str:
    guess = regions.phone_region(sample)
    current = (source.phone_region or "").upper() or None
    if guess.region is not None and guess.region != current:
        return (
            f"set phone_region = \"{guess.region}\" in the mapping ([fields.{name}] "
            f"phone_region = \"{guess.region}\", or --phone-region {guess.region}): "
            f"{guess.share:.0%} of the sampled national numbers are valid there"
        )
    if reason == "phone.no_region":
        return (
            f"set phone_region in the mapping to the country of these numbers "
            f"([fields.{name}] phone_region = \"US\", say); no single region fits them"
        )
    return f"many values are not valid phone numbers in {current}: check the column mapped"


def _dates(name: str, reason: str, sample: Sequence[str], source: ColumnSource) -> str:
    shape = profile_values(sample)
    found = list(shape.date_formats)
    if found and found != list(source.date_formats):
        shown = ", ".join(f'"{f}"' for f in found)
        note = " (the day/month order cannot be told from the values)" if (
            shape.day_month_ambiguous
        ) else ""
        return (
            f"set date_formats = [{shown}] for {name} in the mapping "
            f"([fields.{name}] date_formats = [{shown}]){note}"
        )
    if reason == "date.impossible":
        return (
            "dates that do not exist (31 February): check the day/month order of "
            f"date_formats for {name}; if it is right, they are data errors"
        )
    return f"the values do not look like dates: check the column mapped to {name}"


_OTHER_MISSING = (
    "{share:.0%} of the rows hold no usable value ({reason}): nothing to fix in the "
    "mapping, unless the column holds {name} only in some rows"
)
_OTHER = {
    "phone.unparseable": "the values do not look like phone numbers: check the column "
    "mapped to {name}",
    "date.out_of_range": "{share:.0%} of the dates fall outside the field's window: widen "
    "normalize.earliest / latest in the schema if they are real",
    "email.syntax": "{share:.0%} of the values are not e-mail addresses: check the column "
    "mapped to {name}",
    "postcode.country": "{share:.0%} of the postcodes do not fit normalize.country in the "
    "schema: drop or change that option",
    "postcode.syntax": "{share:.0%} of the values are not postcodes: check the column "
    "mapped to {name}",
    "name.no_letters": "{share:.0%} of the values hold no letters: check the column (and "
    "part / name_order) mapped to {name}",
    "gender.unknown_code": "{share:.0%} of the values are not gender codes (f, m, x): check "
    "the column mapped to {name}",
}
