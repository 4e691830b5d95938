#!/usr/bin/env bash
# What the PROXY protocol costs: smtp-source → HAProxy → sluice-proxy →
# smtp-sink, with HAProxy sending a v2 header (and the proxy expecting
# one) and without, alternated in one run. Everything else is the same.
#
#   apt-get install postfix haproxy   # smtp-source, smtp-sink
#   bash benches/proxy_protocol_cost.sh [MESSAGES] [ROUNDS]
#
# Goal (issue 14): at most 3% slower with the header (median of rounds).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh
N=${1:-2000}
ROUNDS=${2:-6}
cargo build --release -q -p sluice-proxy
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2> /dev/null || true; rm -rf "$WORK"' EXIT
SINK=25311
smtp-sink -u postfix 127.0.0.1:$SINK 1000 &
for v in plain proxied; do
    port=$([ $v = plain ] && echo 25312 || echo 25313)
    lines=$'max_connections = 2000\n'
    [ $v = proxied ] && lines+=$'proxy_protocol = ["127.0.0.1/32"]\n'
    demo_proxy_config "$WORK/$v" $port $SINK "$lines"
    target/release/sluice-proxy --config "$WORK/$v/sluice.toml" 2> "$WORK/$v.log" &
done
cat > "$WORK/haproxy.cfg" <<CF
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend plain
  bind 127.0.0.1:25314
  default_backend plain
frontend proxied
  bind 127.0.0.1:25315
  default_backend proxied
backend plain
  server a 127.0.0.1:25312
backend proxied
  server a 127.0.0.1:25313 send-proxy-v2
CF
haproxy -f "$WORK/haproxy.cfg" -db > /dev/null 2>&1 &
sleep 1
plain=(); proxied=()
for r in $(seq "$ROUNDS"); do
    a=$(run_ms 25314); b=$(run_ms 25315)
    echo "round $r: without the header ${a} ms, with it ${b} ms"
    plain+=("$a"); proxied+=("$b")
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
a=$(median "${plain[@]}"); b=$(median "${proxied[@]}")
echo "median: without ${a} ms, with ${b} ms; cost $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%+.1f%%", (b / a - 1) * 100 }') (goal <= 3%)"
