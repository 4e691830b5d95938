#!/usr/bin/env bash
# Fingerprints at scale (issue 16): DOCS generated documents of about
# 10 KB each (`dlp-bench docs`; 10,000 is about 100 MB of text).
#
#   bash benches/fingerprint_scale.sh [DOCS] [RUNS]
#
# Reports the fingerprinting time and file size, the load (read and compile
# into an engine: time, memory; goal <= 3 s, <= 500 MB), and
# `sluice-scan scan` of the scan benchmark's mail with the demo config alone
# and with the documents added, alternated RUNS times (goal: <= 1.3x).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh
DOCS=${1:-10000}
RUNS=${2:-7}
cargo build --release -q -p sluice-benches --bin dlp-bench
cargo build --release -q -p sluice-scan
DATA=${DATA:-target/fp-bench}
[ -d "$DATA/docs-$DOCS" ] || target/release/dlp-bench docs "$DATA/docs-$DOCS" "$DOCS"
MAIL=target/scan-bench-5000/mail
[ -d "$MAIL" ] || target/release/dlp-bench mail "$MAIL" 5000

start=$(date +%s%N)
find "$DATA/docs-$DOCS" -name '*.txt' | sort > "$DATA/list"
# One invocation (xargs would split the list and overwrite the file).
mapfile -t docs < "$DATA/list"
target/release/sluice-scan fingerprint --out "$DATA/docs.fp" "${docs[@]}" > /dev/null
end=$(date +%s%N)
echo "fingerprint: $DOCS documents, $(du -sm "$DATA/docs-$DOCS" | cut -f1) MB of text, in $(( (end - start) / 1000000 )) ms -> $(du -m "$DATA/docs.fp" | cut -f1) MB file"
echo "load: $(target/release/dlp-bench fp-load "$DATA/docs.fp") (goal <= 3000 ms, <= 500 MB)"

config() {
    sed "s#= \"\(dictionaries/[^\"]*\|board.fp\|sluice-data/[^\"]*\)\"#= \"$PWD/fixtures/demo/\1\"#" fixtures/demo/sluice.toml
    if [ -n "${1:-}" ]; then
        printf '\n[[entity]]\nname = "library"\ntype = "fingerprint"\npath = "%s"\n' "$PWD/$1"
        printf '\n[[rule]]\nname = "Library"\nentities = ["library"]\nseverity = { low = 1 }\n'
        printf '\n[[profile]]\nname = "Library"\nrules = ["Library"]\n'
        printf '\n[[policy]]\nname = "Library alert"\nprofiles = ["Library"]\naction = "alert"\n'
    fi
}
config > "$DATA/demo.toml"
config "$DATA/docs.fp" > "$DATA/demo-docs.toml"
target/release/sluice-scan check --config "$DATA/demo-docs.toml" > /dev/null
read -r base_ms docs_ms ratio < <(paired_ms \
    "target/release/sluice-scan scan --config $DATA/demo.toml --format json $MAIL" \
    "target/release/sluice-scan scan --config $DATA/demo-docs.toml --format json $MAIL")
echo "scan of $(ls "$MAIL" | wc -l) messages ($(du -sm "$MAIL" | cut -f1) MB), $RUNS alternated runs (medians), $(nproc) cores:"
echo "  demo config:                      ${base_ms} ms"
echo "  demo + $DOCS fingerprinted documents: ${docs_ms} ms (load included)"
echo "  ratio (median of per-pair ratios): ${ratio} (goal <= 1.3)"
