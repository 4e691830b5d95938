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
