#!/usr/bin/env bash
# Offline scanner throughput: `sluice-scan scan` with the demo config over a
# folder of generated messages (1-15 KB text, plain or with HTML, some with
# a base64 CSV or .odt attachment, some mentioning the demo terms or a card
# number), against ripgrep 15 searching the demo terms over the same folder.
#
#   cargo install ripgrep --version 15.2.0   # once
#   bash benches/scan_vs_ripgrep.sh [MESSAGES] [RUNS]
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


read -r rg_ms scan_ms ratio < <(paired_ms \
    "$RG -c -i -w -F -f $DATA/terms.txt $DATA/mail" \
    "target/release/sluice-scan scan --config fixtures/demo/sluice.toml --format json $DATA/mail")
echo "input: $N messages, $(du -sm "$DATA/mail" | cut -f1) MB, $RUNS alternated runs (medians), $(nproc) cores"
echo "ripgrep 15 (rg -c -i -w -F):  ${rg_ms} ms  $(( N * 1000 / (rg_ms > 0 ? rg_ms : 1) )) messages/s"
echo "sluice-scan scan (demo):      ${scan_ms} ms  $(( N * 1000 / (scan_ms > 0 ? scan_ms : 1) )) messages/s"
echo "ratio (median of per-pair ratios): ${ratio} (goal <= 2)"
