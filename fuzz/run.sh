#!/usr/bin/env bash
# Fuzzes every target for MINUTES minutes in all, two targets at a time,
# seeded from fixtures/ and ../shared/corpus; findings land in
# fuzz/artifacts/TARGET/ (turn each into a regression test).
#   bash fuzz/run.sh 150        # 2.5 hours over all targets
#   bash fuzz/run.sh 0.5        # a smoke run (what .ci/run does)
# Needs the nightly toolchain and cargo-fuzz (cargo install cargo-fuzz).
set -euo pipefail
cd "$(dirname "$0")"
minutes=${1:-10}
targets=(mime_extract document_office document_pdf document_sheet archive html_rtf transfer
         smtp_session milter_packet query config dictionary_csv fingerprint_file identifiers edm_index)
seconds=$(python3 -c "import sys; print(max(5, int(float(sys.argv[1]) * 60 * 2 / ${#targets[@]})))" "$minutes")

seed() { # target -> its seed folder, filled once from the fixtures and the corpus
    local t=$1 dir=corpus/$1
    mkdir -p "$dir"
    if [ -n "$(ls -A "$dir")" ]; then return 0; fi
    case $t in
        mime_extract|transfer|smtp_session)
            cp ../fixtures/messages/*.eml ../fixtures/demo/messages/*.eml "$dir"/ 2>/dev/null || true
            if [ -d ../../shared/corpus/eml ]; then
                # Every 3rd corpus message (about 100): real-world structure
                # without drowning the fixtures.
                find ../../shared/corpus/eml -type f -name '*.eml' | sort | awk 'NR % 3 == 0' > "$dir.list"
                while read -r f; do cp "$f" "$dir/corpus-$(basename "$f")"; done < "$dir.list"
                rm -f "$dir.list"
            fi ;;
        document_office) for f in ../fixtures/attachments/*.docx ../fixtures/attachments/*.pptx ../fixtures/attachments/*.odt; do
                              { printf '\000'; cat "$f"; } > "$dir/$(basename "$f")"; done ;;
        document_pdf) cp ../fixtures/attachments/*.pdf ../fixtures/hostile/text.pdf ../fixtures/hostile/image-only.pdf \
                          ../fixtures/hostile/self-page-tree.pdf "$dir"/ ;;
        document_sheet) for f in ../fixtures/attachments/*.xlsx ../fixtures/hostile/*.xlsx; do
                             { printf '\000'; cat "$f"; } > "$dir/$(basename "$f")"; done
                        { printf '\001'; cat ../fixtures/attachments/sheet.ods; } > "$dir/sheet.ods" ;;
        archive) for f in ../fixtures/attachments/*.zip; do { printf '\000'; cat "$f"; } > "$dir/$(basename "$f")"; done ;;
        html_rtf) cp ../fixtures/attachments/*.rtf "$dir"/ ;;
        milter_packet) printf 'O\014\000\000\000\006\000\000\001\377\000\037\377\377' > "$dir/negotiate"
                       printf 'L\016Subject\000 Hello\000' > "$dir/header" ;;
        query) printf "%s" "(policy in ['Customer email Hold']) and not severity eq 'low'" > "$dir/q1"
               printf "%s" "subject like '*inv\\'oice*' or rule ne 'x'" > "$dir/q2" ;;
        config) cp ../fixtures/demo/sluice.toml "$dir"/ ;;
        dictionary_csv) cp ../fixtures/demo/dictionaries/*.csv "$dir"/ ;;
        fingerprint_file) cp ../fixtures/demo/*.fp "$dir"/ ;;
        edm_index) # The fixture table's index, with the salt the target checks.
                   # A small table (its first and last rows) keeps inputs short.
                   printf 'sluice fuzzing salt, not a secret\n' > "$dir.salt"
                   { head -20 ../fixtures/edm/customers.csv; tail -5 ../fixtures/edm/customers.csv; } > "$dir.csv"
                   (cd .. && cargo run -q -p sluice-scan -- edm --out "fuzz/$dir/customers.edm" \
                       --salt-file "fuzz/$dir.salt" "fuzz/$dir.csv" > /dev/null)
                   rm -f "$dir.salt" "$dir.csv" ;;
        identifiers) printf 'SSN 123-45-6789, BSN 1112.22.333, DE 136 695 976, AB 12 34 56 C\n' > "$dir/ids"
                     printf 'ghp_1234567890abcdefghijklmnopqrstuvwxyz 2001:db8::1 10.0.0.1 DEUTDEFF500\n' > "$dir/secrets" ;;
    esac
}

# Targets that run third-party parsers in process here but only in capped
# worker processes in production.
contained=(document_pdf document_sheet)
report=$(mktemp)
run_one() {
    local t=$1
    seed "$t"
    mkdir -p "artifacts/$t"
    # 2 GiB RSS and 10 s per input: past those a finding, as in production
    # past max_extractor_memory and max_scan_time.
    local result extra=()
    if [[ " ${contained[*]} " == *" $t "* ]]; then
        # Keep going past aborts and allocation bombs: each is recorded,
        # and the run covers its whole time.
        extra=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
    fi
    if cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 \
        -timeout=10 -artifact_prefix="artifacts/$t/" -print_final_stats=1 "${extra[@]}" > "logs/$t.log" 2>&1; then
        result=ok
    elif [[ " ${contained[*]} " == *" $t "* ]]; then
        # A third-party parser that the worker processes contain: its
        # abort or allocation bomb is a part made unscannable in production.
        result=contained-finding
    else
        result=finding
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' | tail -1 || true)
    # Fork mode reports progress as "#N: cov: ...".
    [ -n "$runs" ] || runs=$(grep -o '^#[0-9]*' "logs/$t.log" | tail -1 | tr -d '#' || true)
    findings=$(find "artifacts/$t" -type f | wc -l)
    echo "$t $result executions=${runs:-0} seconds=$seconds findings=$findings" >> "$report"
}

mkdir -p logs
cargo +nightly fuzz build > logs/build.log 2>&1
i=0
for t in "${targets[@]}"; do
    run_one "$t" &
    i=$((i + 1))
    if [ $((i % 2)) -eq 0 ]; then wait; fi
done
wait
sort "$report"
! grep -q ' finding ' "$report"
