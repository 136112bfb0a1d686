"""Schema-format versions: upgrade older documents, refuse ones from the future.

A schema document is upgraded one version at a time by the functions in ``_UPGRADES``
(``_UPGRADES[n]`` turns a version-n document into a version-(n+1) one) until it reaches
:data:`~hashmatch._version.SCHEMA_VERSION`; only then is it validated. Version 1 is the
first format, so the chain is empty. Adding version 2 means: bump ``SCHEMA_VERSION``,
write ``_v1_to_v2(doc) -> doc`` here, register it as ``_UPGRADES[1]``, ship
``jsonschema/schema-v2.json``, and keep a v1 document in ``tests/data`` that must still load.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hashmatch._version import SCHEMA_VERSION
from hashmatch.errors import Problem, SchemaError
from hashmatch.schema.validate import describe

Document = dict[str, Any]

#: version n -> function upgrading a version-n document to version n+1.
_UPGRADES: Mapping[int, Callable[[Document], Document]] = {}

#: The oldest schema version this release can still read.
OLDEST_SUPPORTED = 1


def upgrade(doc: Mapping[str, Any], *, source: str | None = None) -> Document:
    """Return ``doc`` upgraded to the current schema version (a new dict).

    Raises
    ------
    SchemaError
        The version is missing, not an integer, unknown, or newer than this release.
    """
    version = doc.get("version")
    if "version" not in doc:
        problem = Problem("version", f"missing; expected version = {SCHEMA_VERSION}")
        raise SchemaError([problem], source=source)
    if isinstance(version, bool) or not isinstance(version, int):
        problem = Problem(
            "version", f"expected an integer such as {SCHEMA_VERSION}, got {describe(version)}"
        )
        raise SchemaError([problem], source=source)
    if version > SCHEMA_VERSION:
        problem = Problem(
            "version",
            f"schema version {version} was written by a newer hashmatch; upgrade hashmatch "
            f"(this release reads {_supported()})",
        )
        raise SchemaError([problem], source=source)
    if version < OLDEST_SUPPORTED:
        problem = Problem(
            "version",
            f"unknown schema version {version}; expected {_supported()}",
        )
        raise SchemaError([problem], source=source)
    out = dict(doc)
    while out["version"] < SCHEMA_VERSION:
        out = _UPGRADES[out["version"]](out)
    return out


def _supported() -> str:
    if OLDEST_SUPPORTED == SCHEMA_VERSION:
        return f"version {SCHEMA_VERSION}"
    return f"versions {OLDEST_SUPPORTED}-{SCHEMA_VERSION}"
