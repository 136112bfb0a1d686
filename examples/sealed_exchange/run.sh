#!/usr/bin/env bash
# Sealed, signed exchange between two departments and a coordinator (see README.md).
# Run from anywhere: ./examples/sealed_exchange/run.sh
# Each role works in its own folder, so you can see which file lives where.
set -euo pipefail
cd "$(dirname "$0")"
DATA=../two_departments   # the synthetic parties of that example
rm -rf coordinator crm callcentre
mkdir -p coordinator/parties crm callcentre

# 1. The coordinator makes its key pair and gives coordinator.pub to every party.
hashmatch keygen --coordinator -o coordinator/coordinator
cp coordinator/coordinator.pub crm/
cp coordinator/coordinator.pub callcentre/

# 2. The parties agree on a linkage secret (shared between them, never with the coordinator).
hashmatch keygen -o crm/linkage.secret
cp crm/linkage.secret callcentre/

# 3. Each party makes its signing key and gives NAME.pub to the coordinator's trust folder.
for party in crm callcentre; do
    hashmatch keygen --party "$party" -o "$party/$party"
    cp "$party/$party.pub" coordinator/parties/
done

# 4. Each party encodes locally, sealed for the coordinator and signed; only the
#    .hme.sealed file leaves the party (the .lookup stays, no unsealed copy is left).
for party in crm callcentre; do
    hashmatch encode "$DATA/$party.csv" --schema "$DATA/schema.toml" \
        --mapping "$DATA/$party.mapping.toml" --secret "$party/linkage.secret" --party "$party" \
        -o "$party/$party.hme.sealed" --seal-for "$party/coordinator.pub" --sign "$party/$party.key"
    cp "$party/$party.hme.sealed" coordinator/
done

# 5. The coordinator checks the signatures against its trust folder, decrypts in memory
#    (nothing named on disk) and links.
hashmatch link coordinator/crm.hme.sealed coordinator/callcentre.hme.sealed \
    -o coordinator/results --key coordinator/coordinator.key --trust coordinator/parties/

# 6. A file changed on the way is refused (exit status 2), before anything is decrypted.
cp coordinator/crm.hme.sealed coordinator/crm.tampered.sealed
byte=$(od -An -tu1 -j 2000 -N 1 coordinator/crm.tampered.sealed | tr -d ' ')
# a different byte at offset 2000 (writing a fixed one left the file intact 1 time in 256)
printf "\\$(printf '%03o' $(( (byte + 1) % 256 )))" \
    | dd of=coordinator/crm.tampered.sealed bs=1 seek=2000 conv=notrunc status=none
if hashmatch link coordinator/crm.tampered.sealed coordinator/callcentre.hme.sealed \
    -o coordinator/refused --key coordinator/coordinator.key --trust coordinator/parties/; then
    echo "a tampered file was accepted" >&2
    exit 1
fi

# 7. Because this data is synthetic, we know the truth and can score the linkage
#    (each party would normally rejoin its own rows with `hashmatch reveal`).
hashmatch evaluate coordinator/results --truth "$DATA/truth.csv" \
    --lookup crm/crm.lookup --lookup callcentre/callcentre.lookup
