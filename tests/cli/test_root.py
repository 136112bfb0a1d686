from typer.testing import CliRunner

from hashmatch import __version__
from hashmatch.cli import app


def test_version_flag_prints_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"hashmatch {__version__}"


def test_compiled_core_is_importable() -> None:
    import numpy as np

    from hashmatch.kernel import _core as _core

    rows = np.array([[0, 1], [2**64 - 1, 3]], dtype=np.uint64)
    assert list(_core.popcount_rows(rows)) == [1, 66]
