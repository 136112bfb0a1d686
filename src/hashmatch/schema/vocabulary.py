"""The words a linkage schema may use: field types and match-key part transforms.

A leaf module: the dataclasses (:mod:`~hashmatch.schema.model`), the validator and the
hardening options (whose ``salt`` takes a part transform) all draw on it, so it imports
nothing from the schema package.
"""

from __future__ import annotations

from typing import Literal

#: The normaliser families. Each logical field names one of these as its ``type``.
FieldType = Literal[
    "name",  # given names, surnames, middle names (option: nicknames)
    "email",
    "phone",
    "date",  # canonical YYYY-MM-DD, or YYYY-MM / YYYY when only part is known
    "postcode",
    "address",
    "gender",
    "text",  # generic free text
    "id",  # identifiers: national id, customer number (exact only by default)
]
FIELD_TYPES: tuple[str, ...] = FieldType.__args__  # type: ignore[attr-defined]

#: How a match-key part may transform a field's canonical value before it is hashed.
#: ``year``/``month``/``day`` take a date component; ``initial`` the first letter;
#: ``prefix3`` the first 3 characters; ``soundex`` a phonetic code (names).
PartTransform = Literal["year", "month", "day", "initial", "prefix3", "soundex"]
PART_TRANSFORMS: tuple[str, ...] = PartTransform.__args__  # type: ignore[attr-defined]
