"""The examples in the package's docstrings run and print what they say (each module's
doctests, on the installed package)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import hashmatch

# (``hashmatch.__main__`` runs the command line when imported)
MODULES = sorted(m.name for m in pkgutil.walk_packages(hashmatch.__path__, "hashmatch.")
                 if m.name != "hashmatch.__main__")


def test_modules_were_found() -> None:
    assert "hashmatch.link.quality" in MODULES and len(MODULES) > 50


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples fail in {name}"
