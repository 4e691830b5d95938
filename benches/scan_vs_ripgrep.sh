#!/usr/bin/env bash
# Offline scanner throughput: `sluice-scan scan` with the demo config over a
# folder of generated messages (1-15 KB text, plain or with HTML, some with
# a base64 CSV or .odt attachment, some mentioning the demo terms or a card
# number), against ripgrep 15 searching the demo terms over the same folder.
#
#   cargo install ripgrep --version 15.2.0   # once
#   bash benches/scan_vs_ripgrep.sh [MESSAGES] [RUNS]
#   IDENTIFIERS=all bash benches/scan_vs_ripgrep.sh   # the demo config plus
#       an entity of every built-in identifier type, counted by one more rule
#       under an alert policy
#
# ripgrep only searches raw bytes; we decode MIME, base64, HTML and
# attachments, count, evaluate rules (dictionary, card numbers, document
# fingerprints) and policies, and print a JSON decision per message.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000}
RUNS=${2:-5}
. benches/common.sh
require_ripgrep_15
cargo build --release -q -p sluice-benches --bin dlp-bench
cargo build --release -q -p sluice-scan
DATA=${DATA:-target/scan-bench-$N}
if [ ! -d "$DATA/mail" ]; then
    mkdir -p "$DATA/mail"
    target/release/dlp-bench mail "$DATA/mail" "$N"
fi


CONFIG=fixtures/demo/sluice.toml
if [ "${IDENTIFIERS:-}" = all ]; then
    CONFIG=$DATA/sluice-all-identifiers.toml
    # The demo's files by absolute path, so the copy may live elsewhere.
    sed "s#= \"\(dictionaries/[^\"]*\|board.fp\|sluice-data/[^\"]*\)\"#= \"$PWD/fixtures/demo/\1\"#" \
        fixtures/demo/sluice.toml > "$CONFIG"
    types=$(target/release/sluice-scan identifiers --format json | python3 -c 'import json,sys; print(" ".join(json.loads(l)["type"] for l in sys.stdin))')
    for t in $types; do
        printf '\n[[entity]]\nname = "id-%s"\ntype = "%s"\n' "$t" "$t" >> "$CONFIG"
    done
    list=$(for t in $types; do printf '"id-%s", ' "$t"; done)
    printf '\n[[rule]]\nname = "Identifiers"\nentities = [%s]\n\n[[profile]]\nname = "All identifiers"\nrules = ["Identifiers"]\n\n[[policy]]\nname = "Identifier alert"\nprofiles = ["All identifiers"]\naction = "alert"\n' "${list%, }" >> "$CONFIG"
    target/release/sluice-scan check --config "$CONFIG" > /dev/null
fi

read -r rg_ms scan_ms ratio < <(paired_ms \
    "$RG -c -i -w -F -f $DATA/terms.txt $DATA/mail" \
    "target/release/sluice-scan scan --config $CONFIG --format json $DATA/mail")
echo "input: $N messages, $(du -sm "$DATA/mail" | cut -f1) MB, $RUNS alternated runs (medians), $(nproc) cores"
echo "ripgrep 15 (rg -c -i -w -F):  ${rg_ms} ms  $(( N * 1000 / (rg_ms > 0 ? rg_ms : 1) )) messages/s"
echo "sluice-scan scan (${IDENTIFIERS:+all identifiers, }demo): ${scan_ms} ms  $(( N * 1000 / (scan_ms > 0 ? scan_ms : 1) )) messages/s"
echo "ratio (median of per-pair ratios): ${ratio} (goal <= 2)"
