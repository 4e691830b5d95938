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
