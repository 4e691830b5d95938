# Shared by the benchmark scripts: find ripgrep 15 and time commands.

# Sets RG to a ripgrep 15 binary or exits 2 with how to install it.
require_ripgrep_15() {
    RG=${RG:-$(command -v rg || true)}
    if [ -z "$RG" ] || ! "$RG" --version | head -1 | grep -q '^ripgrep 15'; then
        echo "ripgrep 15 not found (RG=$RG): cargo install ripgrep --version 15.2.0" >&2
        exit 2
    fi
}

# Median wall time in ms of RUNS runs of a command (its exit status ignored:
# the scanner exits 1 on findings).
median_ms() {
    local times=()
    for _ in $(seq "$RUNS"); do
        local s e
        s=$(date +%s%N)
        "$@" > /dev/null || true
        e=$(date +%s%N)
        times+=($(( (e - s) / 1000000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
}

# Runs command A and command B alternately RUNS times (so a machine that
# slows down or speeds up mid-run affects both alike) and prints three
# numbers: A's median ms, B's median ms and the median of the per-pair
# ratios B/A. Commands are given as two strings, word-split.
paired_ms() {
    local a=$1 b=$2 s e ta tb
    for _ in $(seq "$RUNS"); do
        s=$(date +%s%N); $a > /dev/null || true; e=$(date +%s%N); ta=$(( (e - s) / 1000 ))
        s=$(date +%s%N); $b > /dev/null || true; e=$(date +%s%N); tb=$(( (e - s) / 1000 ))
        echo "$ta $tb"
    done | awk '{ a[NR] = $1; b[NR] = $2; r[NR] = $2 / $1 }
        function median(v, n,   i, j, t) {
            for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j > 0 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
            return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        }
        END { printf "%.0f %.0f %.2f\n", median(a, NR) / 1000, median(b, NR) / 1000, median(r, NR) }'
}

# Wall time in ms of smtp-source sending N 10 KB messages over 20 sessions
# to 127.0.0.1:PORT (the mail benchmarks' one load).
run_ms() {
    local s e
    s=$(date +%s%N)
    smtp-source -s 20 -m "$N" -l 10240 -f alice@example.com -t bob@partner.org "127.0.0.1:$1"
    e=$(date +%s%N)
    echo $(( (e - s) / 1000000 ))
}

# The demo config with its files by absolute path, so a copy may live
# elsewhere; with NAME TYPE KEYS, plus an entity NAME of TYPE (its TOML
# KEYS lines) counted by one rule under an alert policy.
demo_config() {
    sed "s#= \"\(dictionaries/[^\"]*\|board.fp\|sluice-data/[^\"]*\)\"#= \"$PWD/fixtures/demo/\1\"#" fixtures/demo/sluice.toml
    if [ -n "${1:-}" ]; then
        printf '\n[[entity]]\nname = "%s"\ntype = "%s"\n%s\n' "$1" "$2" "$3"
        printf '\n[[rule]]\nname = "%s rule"\nentities = ["%s"]\nseverity = { low = 1 }\n' "$1" "$1"
        printf '\n[[profile]]\nname = "%s profile"\nrules = ["%s rule"]\n' "$1" "$1"
        printf '\n[[policy]]\nname = "%s alert"\nprofiles = ["%s profile"]\naction = "alert"\n' "$1" "$1"
    fi
}

# The scan benchmark's MAIL folder scanned with config A and config B,
# alternated RUNS times. Each run reports its own load and scan times
# (`sluice-scan scan --timings`); the ratio is of the scan times alone, the
# load being what a long-running proxy pays once (and reloads on SIGHUP).
paired_scan() {
    local a=$1 b=$2 label=$3 goal=$4
    for _ in $(seq "$RUNS"); do
        for config in "$a" "$b"; do
            target/release/sluice-scan scan --timings --config "$config" --format json "$MAIL" 2>&1 > /dev/null \
                | sed -n 's/^sluice-scan: loaded in \([0-9]*\) ms, scanned in \([0-9]*\) ms$/\1 \2/p' | tr '\n' ' ' || true
        done
        echo
    done | awk -v label="$label" -v goal="$goal" 'NF == 4 { n++; la[n] = $1; a[n] = $2; lb[n] = $3; b[n] = $4; r[n] = $4 / ($2 > 0 ? $2 : 1) }
        function median(v, n,   i, j, t) {
            for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j > 0 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
            return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        }
        END {
            if (n == 0) { print "  error: no timings read"; exit 1 }
            printf "  demo config: load %d ms, scan %d ms\n", median(la, n), median(a, n)
            printf "  %s: load %d ms, scan %d ms\n", label, median(lb, n), median(b, n)
            printf "  scan ratio, load apart (median of per-round ratios): %.2f (goal <= %s)\n", median(r, n), goal
        }'
}

# Writes DIR/sluice.toml: a proxy listening on 127.0.0.1:PORT, relaying to
# 127.0.0.1:SINK, its store under DIR/data, then PROXY_LINES (more [proxy]
# keys, each ending in a newline), SECTIONS (more tables, from `$(...)`
# or not: a blank line follows them) and the demo
# config's entities, rules, profiles and policies, with the demo's files
# copied beside it.
demo_proxy_config() {
    local dir=$1 port=$2 sink=$3 proxy_lines=${4:-} sections=${5:-}
    mkdir -p "$dir"
    cp -r fixtures/demo/dictionaries fixtures/demo/board.fp "$dir/"
    {
        printf '[proxy]\nlisten = "127.0.0.1:%s"\nhostname = "dlp.bench"\n%s\n' "$port" "$proxy_lines"
        printf '[upstream]\naddress = "127.0.0.1:%s"\nstarttls = "off"\n\n[store]\npath = "data/sluice.db"\n\n' "$sink"
        if [ -n "$sections" ]; then printf '%s\n\n' "$sections"; fi
        sed -n '/^\[\[entity\]\]/,$p' fixtures/demo/sluice.toml
    } > "$dir/sluice.toml"
}
