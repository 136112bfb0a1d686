"""The Examples in the schema package's docstrings run."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

import hashmatch.schema
from hashmatch.schema import fingerprint, mapping


@pytest.mark.parametrize("module", [hashmatch.schema, fingerprint, mapping])
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
