#!/usr/bin/env bash
# Fingerprints at scale (issue 16): DOCS generated documents of about
# 10 KB each (`dlp-bench docs`; 10,000 is about 100 MB of text).
#
#   bash benches/fingerprint_scale.sh [DOCS] [RUNS]
#
# Reports the fingerprinting time and file size, the load (read and compile
# into an engine: time, memory; goal <= 3 s, <= 500 MB), and
# `sluice-scan scan` of the scan benchmark's mail with the demo config alone
# and with the documents added, alternated RUNS times, the documents' load
# measured apart (goal: <= 1.3x without it).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh
DOCS=${1:-10000}
# One round's ratio varies by about 15% on a 2-core virtual machine; the
# median of 31 rounds by a few hundredths (docs/performance.md).
RUNS=${2:-31}
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
    if [ -n "${1:-}" ]; then
        demo_config library fingerprint "path = \"$PWD/$1\""
    else
        demo_config
    fi
}
config > "$DATA/demo.toml"
config "$DATA/docs.fp" > "$DATA/demo-docs.toml"
target/release/sluice-scan check --config "$DATA/demo-docs.toml" > /dev/null
# The load alone: one tiny message.
printf 'From: a@example.com\nTo: b@example.org\nSubject: t\n\nhello\n' > "$DATA/tiny.eml"
start=$(date +%s%N)
target/release/sluice-scan scan --config "$DATA/demo-docs.toml" --format json "$DATA/tiny.eml" > /dev/null || true
end=$(date +%s%N)
echo "sluice-scan with the documents, one tiny message (the load): $(( (end - start) / 1000000 )) ms"
echo "scan of $(ls "$MAIL" | wc -l) messages ($(du -sm "$MAIL" | cut -f1) MB), $RUNS alternated rounds (medians), $(nproc) cores:"
paired_scan "$DATA/demo.toml" "$DATA/demo-docs.toml" "demo + $DOCS fingerprinted documents" 1.3
