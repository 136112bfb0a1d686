#!/usr/bin/env bash
# Two departments link their customers without sharing them (see README.md).
# Run from anywhere: ./examples/two_departments/run.sh
set -euo pipefail
cd "$(dirname "$0")"
rm -rf results crm.hme callcentre.hme crm.lookup callcentre.lookup linkage.secret

# 1. Both departments agree on a linkage secret (shared between them, never with the coordinator).
hashmatch keygen -o linkage.secret

# 2. Each department encodes its own file locally; the .lookup file never leaves it.
hashmatch encode crm.csv --schema schema.toml --secret linkage.secret --party crm \
    --mapping crm.mapping.toml -o crm.hme --lookup crm.lookup
hashmatch encode callcentre.csv --schema schema.toml --secret linkage.secret --party callcentre \
    --mapping callcentre.mapping.toml -o callcentre.hme --lookup callcentre.lookup

# 3. The coordinator links the encodings (no PII, no secret).
hashmatch link crm.hme callcentre.hme -o results/

# 4. Because this data is synthetic, we know the truth and can score the linkage.
hashmatch evaluate results/ --truth truth.csv --lookup crm.lookup --lookup callcentre.lookup
