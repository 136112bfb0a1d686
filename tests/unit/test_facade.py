"""``import hashmatch as hm``: every public name resolves, lazily, and the coordinator side
stays free of the encoder and the normalisers."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

import hashmatch as hm

#: The folder holding the hashmatch package under test (src/ in a checkout built in place,
#: site-packages after `pip install .`, as in CI): a fresh interpreter must find the same.
SRC = Path(hm.__file__).resolve().parents[1]


def _loaded_after(statement: str) -> list[str]:
    """The hashmatch modules a fresh interpreter has loaded after ``statement``."""
    code = (
        f"{statement}\nimport json, sys\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('hashmatch'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(SRC), "PATH": ""},
    )
    loaded: list[str] = json.loads(done.stdout)
    return loaded


@pytest.mark.parametrize("name", hm.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(hm, name) is not None
    assert name in dir(hm)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        hm.nope  # noqa: B018
    assert not hasattr(hm, "pipeline")


def test_the_bare_import_loads_almost_nothing() -> None:
    assert _loaded_after("import hashmatch") == [
        "hashmatch",
        "hashmatch._version",
        "hashmatch.errors",
    ]


@pytest.mark.parametrize("statement", ["import hashmatch.link", "import hashmatch.kernel"])
def test_the_coordinator_side_loads_no_encoder_secret_or_normaliser(statement: str) -> None:
    loaded = _loaded_after(statement)
    assert statement.split()[-1] in loaded
    party_side = [m for m in loaded if m.startswith(("hashmatch.encode", "hashmatch.normalize"))]
    assert party_side == []


def test_calling_hm_link_still_loads_no_encoder() -> None:
    # hm.link itself (not only the package) belongs to the coordinator side
    loaded = _loaded_after("import hashmatch as hm\nhm.link.__signature__")
    assert "hashmatch._api.linking" in loaded
    assert not [m for m in loaded if m.startswith(("hashmatch.encode", "hashmatch.normalize"))]


@pytest.mark.parametrize(
    ("name", "function"),
    [
        ("encode", "hashmatch.encode.pipeline:encode_records"),
        ("link", "hashmatch._api.linking:link"),
        ("evaluate", "hashmatch.evaluate:evaluate_table"),
    ],
)
def test_stage_packages_are_callable_facade_functions(name: str, function: str) -> None:
    package = getattr(hm, name)
    assert isinstance(package, types.ModuleType)
    assert package is sys.modules[f"hashmatch.{name}"]
    module, _, attr = function.partition(":")
    target = getattr(importlib.import_module(module), attr)
    assert inspect.signature(package) == inspect.signature(target)


def test_hm_encode_stays_callable_once_its_submodules_are_imported(tmp_path: Path) -> None:
    # The import system rebinds hashmatch.encode whenever the package is first imported:
    # here LinkageSecret imports it before hm.encode is ever touched.
    code = (
        "import hashmatch as hm\n"
        "secret = hm.LinkageSecret(bytes(32))\n"
        "import hashmatch.encode.keys, hashmatch.encode.pipeline\n"
        "schema = {'version': 1, 'clk': {'bits': 64},"
        " 'fields': [{'name': 'n', 'type': 'text', 'bloom': True}]}\n"
        "b = hm.encode([{'n': 'x'}], schema=schema, secret=secret, party='p')\n"
        "print(b.rows)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(SRC), "PATH": ""},
    )
    assert done.stdout.strip() == "1"


def test_package_attributes_still_work_through_the_callable_modules() -> None:
    import hashmatch.link

    assert hashmatch.link.link_files.__module__ == "hashmatch.link.pipeline"
    assert hm.evaluate.evaluate_labels.__module__ == "hashmatch.evaluate"
