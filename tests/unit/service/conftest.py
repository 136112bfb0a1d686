"""A small registry of four synthetic parties, API tokens, and a service over it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hashmatch.encode import LinkageSecret, encode_file
from hashmatch.encode.keys import RowKey
from hashmatch.registry import update
from hashmatch.service.tokens import issue_token
from hashmatch.synth import synthesize

PARTIES = ("callcentre", "catalogue", "crm", "partner")


@dataclass(frozen=True)
class Served:
    root: Path
    registry: str
    secret: Path
    tokens: dict[str, str]

    def synth(self, name: str) -> Path:
        return self.root / "synth" / name

    def rowkey(self, party: str) -> Path:
        return self.root / f"{party}.rowkey"


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    root = tmp_path_factory.mktemp("served")
    synthesize(root / "synth", entities=300, seed=3)
    # Fixed, test-only: the registry's threshold is chosen from its score histogram, which
    # on 300 people moves with the secret (0.45-0.60 over 10 random secrets); at the low
    # end two of test_match's new people scored 0.46 and 0.45 and came back matched. A
    # fixed secret makes every test here see one registry, the same each run.
    secret = LinkageSecret(bytes([29]) * 32)
    secret.write(root / "linkage.secret")
    files = []
    for party in PARTIES:
        RowKey.generate().write(root / f"{party}.rowkey")
        out = root / f"{party}.hme"
        encode_file(root / "synth" / f"{party}.csv", schema=root / "synth" / "schema.toml",
                    secret=secret, party=party, out=out, lookup=root / f"{party}.lookup",
                    mapping=root / "synth" / f"{party}.mapping.toml",
                    row_key=root / f"{party}.rowkey")
        files.append(out)
    registry = str(root / "registry.db")
    update(registry, files)
    tokens = {p: issue_token(registry, p) for p in ("crm", "partner")}
    return Served(root, registry, root / "linkage.secret", tokens)


@pytest.fixture
def client(served: Served) -> Iterator[object]:
    from fastapi.testclient import TestClient

    from hashmatch.service.app import create_app

    with TestClient(create_app(served.registry)) as c:
        yield c
