#!/usr/bin/env bash
# Dictionary scan throughput: sluice-dlp against ripgrep 15 on the same
# ~100 MB of English-like text and the same 1,000 terms, in one run.
#
#   cargo install ripgrep --version 15.2.0   # once; Debian's rg 13 is not the bar
#   bash benches/dlp_vs_ripgrep.sh [MB] [RUNS]
#
# Both sides are timed end to end as processes (read the file, build the
# matcher, scan): rg -c -i -w -F -f terms.txt text.txt, and
# dlp-bench scan terms.csv text.txt (normalization included), then again
# with all built-in identifiers enabled. Prints the median wall time of
# RUNS runs, MB/s, and our/rg ratios (goals: <= 1.5 and <= 2.0).
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-100}
RUNS=${2:-5}
. benches/common.sh
require_ripgrep_15
cargo build --release -q -p sluice-benches --bin dlp-bench
BIN=target/release/dlp-bench
DATA=${DATA:-target/dlp-bench-data-$MB}
[ -f "$DATA/text.txt" ] || "$BIN" generate "$DATA" "$MB"
BYTES=$(stat -c %s "$DATA/text.txt")


rg_ms=$(median_ms "$RG" -c -i -w -F -f "$DATA/terms.txt" "$DATA/text.txt")
dict_ms=$(median_ms "$BIN" scan "$DATA/terms.csv" "$DATA/text.txt")
all_ms=$(median_ms "$BIN" scan "$DATA/terms.csv" "$DATA/text.txt" --identifiers)
mbs() { awk -v b="$BYTES" -v ms="$1" 'BEGIN { printf "%.0f", b / 1e6 / (ms / 1000) }'; }
ratio() { awk -v a="$1" -v b="$rg_ms" 'BEGIN { printf "%.2f", a / b }'; }
echo "input: $(( BYTES / 1000000 )) MB, $(wc -l < "$DATA/terms.txt") terms, median of $RUNS runs, $(nproc) cores"
echo "ripgrep 15 (rg -c -i -w -F):      ${rg_ms} ms  $(mbs "$rg_ms") MB/s"
echo "sluice-dlp dictionary:            ${dict_ms} ms  $(mbs "$dict_ms") MB/s  ratio $(ratio "$dict_ms") (goal <= 1.5)"
echo "sluice-dlp dictionary+identifiers: ${all_ms} ms  $(mbs "$all_ms") MB/s  ratio $(ratio "$all_ms") (goal <= 2.0)"
