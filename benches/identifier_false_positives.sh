#!/usr/bin/env bash
# False positives of the built-in identifiers on real number-heavy text
# (issue 15, SPEC §3.3): the csv crate's benchmark data (sports results,
# transit stop times, world cities with coordinates and populations) from
# the cargo registry, plus the text Sluice extracts from ../shared/corpus.
# None of it holds real identifiers by design, so every match of a
# national-id type is a false positive; e-mail and IP addresses are real
# ones (the corpus is mail) and are reported apart.
#
#   bash benches/identifier_false_positives.sh
#
# Prints matches per type and per MB at each confidence (low and above,
# medium and above, high): the goal is at most one per MB over all types
# at the default (medium), none at high.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p sluice-benches --bin dlp-bench
cargo build --release -q -p sluice-scan
CSV_DIR=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/csv-1.*/examples/data/bench | head -1)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
if [ -d ../shared/corpus/eml ]; then
    target/release/sluice-scan extract --format json ../shared/corpus/eml > "$OUT/corpus.jsonl" || true
    python3 - "$OUT/corpus.jsonl" > "$OUT/corpus.txt" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    message = json.loads(line)
    for part in message.get("parts", []):
        if part["location"].get("field") in (None, "subject"):
            print(part["text"])
    print()
PY
fi
echo "== csv crate benchmark data ($CSV_DIR)"
target/release/dlp-bench identifiers "$CSV_DIR"/*.csv
if [ -s "$OUT/corpus.txt" ]; then
    echo
    echo "== ../shared/corpus, extracted text"
    target/release/dlp-bench identifiers "$OUT/corpus.txt"
fi
