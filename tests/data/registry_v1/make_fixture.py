"""Rebuild this folder's layout-1 registry fixture; run with a hashmatch that writes
registry layout 1 on the path (e.g. ``PYTHONPATH=/path/to/old/src``):

    python tests/data/registry_v1/make_fixture.py WORK_DIR tests/data/registry_v1

Synthesises 300 people (seed 21), splits them into months (4% held back, 5% changed,
3% removed), encodes both months, builds ``registry_v1.db`` from month 0 and records in
``month1_by_v1.json`` the record -> entity map and events of month 1 linked into a copy.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path

from hashmatch.encode import LinkageSecret, encode_file
from hashmatch.encode.keys import RowKey
from hashmatch.registry import record_map, update
from hashmatch.synth import synthesize
from hashmatch.synth.months import split_months


def main(root: Path, out: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    out.mkdir(parents=True, exist_ok=True)
    synthesize(root / "synth", entities=300, seed=21)
    split_months(root / "synth", root, seed=22, held_back=0.04, changed=0.05, removed=0.03)
    secret = LinkageSecret.generate()
    files: dict[str, list[Path]] = {}
    for month in ("month0", "month1"):
        folder = root / month
        for mapping in sorted(folder.glob("*.mapping.toml")):
            party = mapping.name.removesuffix(".mapping.toml")
            row_key = root / f"{party}.rowkey"
            if not row_key.exists():
                RowKey.generate().write(row_key)
            dest = out / f"{party}.{month}.hme"
            encode_file(folder / f"{party}.csv", schema=folder / "schema.toml", secret=secret,
                        party=party, out=dest, lookup=root / f"{party}.{month}.lookup",
                        mapping=mapping, row_key=row_key)
            files.setdefault(month, []).append(dest)
    registry = out / "registry_v1.db"
    registry.unlink(missing_ok=True)
    update(str(registry), files["month0"])
    conn = sqlite3.connect(registry)
    conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    conn.execute("VACUUM")
    conn.close()
    after = root / "after.db"
    shutil.copyfile(registry, after)
    result = update(str(after), files["month1"])
    doc = {"events": dict(sorted(result.events.items())),
           "records": sorted([p, t.hex(), e] for (p, t), e in record_map(str(after)).items())}
    (out / "month1_by_v1.json").write_text(json.dumps(doc, indent=0) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
