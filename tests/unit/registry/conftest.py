"""Registry fixtures: two months of synthetic data (the backends, ``registry_url``, are
in ``tests/unit/conftest.py``, shared with the lookup service's tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from hashmatch.encode import LinkageSecret, encode_file
from hashmatch.encode.keys import RowKey
from hashmatch.synth import synthesize
from hashmatch.synth.months import split_months


@dataclass(frozen=True)
class Months:
    """Encoded month-0 and month-1 snapshots of 4 parties (same row keys both months)."""

    root: Path
    month0: list[Path]
    month1: list[Path]
    lookups0: list[Path]
    lookups1: list[Path]
    truth: Path


def _encode_month(root: Path, month: str, secret: LinkageSecret) -> tuple[list[Path], list[Path]]:
    folder = root / month
    files, lookups = [], []
    for data in sorted(folder.glob("*.csv")):
        party = data.stem
        if party in ("truth", "twins"):
            continue
        out = root / f"{party}.{month}.hme"
        encode_file(data, schema=folder / "schema.toml", secret=secret, party=party, out=out,
                    lookup=root / f"{party}.{month}.lookup",
                    mapping=folder / f"{party}.mapping.toml",
                    row_key=root / f"{party}.rowkey")
        files.append(out)
        lookups.append(root / f"{party}.{month}.lookup")
    return files, lookups


@pytest.fixture(scope="session")
def months(tmp_path_factory: pytest.TempPathFactory) -> Months:
    root = tmp_path_factory.mktemp("months")
    synthesize(root / "synth", entities=500, seed=3)
    split_months(root / "synth", root, seed=5)
    # fixed keys: the Bloom bits (and so every score and the F1 the tests compare, to
    # 0.002 on 1,000 records) are the same on every run, not a draw of random keys
    secret = LinkageSecret(bytes(range(32)))
    for k, party in enumerate(("callcentre", "catalogue", "crm", "partner")):
        RowKey(bytes([k + 1]) * 32).write(root / f"{party}.rowkey")
    m0, l0 = _encode_month(root, "month0", secret)
    m1, l1 = _encode_month(root, "month1", secret)
    return Months(root, m0, m1, l0, l1, root / "month1" / "truth.csv")
