#!/usr/bin/env bash
# Proxy throughput: smtp-source through sluice-proxy (DLP on, demo policy)
# to smtp-sink, against smtp-source straight to smtp-sink, alternated in one
# run; then the proxy's memory with 1,000 idle connections.
#
#   apt-get install postfix   # smtp-source, smtp-sink
#   bash benches/proxy_throughput.sh [MESSAGES] [ROUNDS]
#
# Goal (issue 5): proxy throughput >= 0.6 of the direct path; 1,000 idle
# connections under 100 MB RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh
N=${1:-2000}
ROUNDS=${2:-3}
for tool in smtp-source smtp-sink; do
    command -v "$tool" > /dev/null || { echo "$tool not found: apt-get install postfix" >&2; exit 2; }
done
cargo build --release -q -p sluice-proxy
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2> /dev/null || true; rm -rf "$WORK"' EXIT
SINK_PORT=25251
PROXY_PORT=25252
smtp-sink -u postfix 127.0.0.1:$SINK_PORT 1000 &
demo_proxy_config "$WORK/demo" $PROXY_PORT $SINK_PORT $'max_connections = 2000\n'
target/release/sluice-proxy --config "$WORK/demo/sluice.toml" 2> "$WORK/proxy.log" &
PROXY_PID=$!
sleep 1


direct=0
proxied=0
for _ in $(seq "$ROUNDS"); do
    d=$(run_ms $SINK_PORT)
    p=$(run_ms $PROXY_PORT)
    echo "round: direct ${d} ms, through the proxy ${p} ms"
    direct=$(( direct + d ))
    proxied=$(( proxied + p ))
done
echo "direct:        $(( N * ROUNDS * 1000 / direct )) messages/s"
echo "through proxy: $(( N * ROUNDS * 1000 / proxied )) messages/s  ratio $(awk -v a="$direct" -v b="$proxied" 'BEGIN { printf "%.2f", a / b }') (goal >= 0.6)"
# Added latency: the time a message spends in the proxy minus the wait for
# the upstream's reply to the data (which the direct path has too).
percentiles() { sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "p50 %.2f ms, p99 %.2f ms", v[int(NR * 0.5)], v[int(NR * 0.99)] }'; }
fields() { sed -n 's/.*scan_ms=\([0-9.]*\) upstream_ms=\([0-9.]*\) total_ms=\([0-9.]*\).*/\1 \2 \3/p' "$WORK/proxy.log"; }
echo "scan time per message: $(fields | awk '{ print $1 }' | percentiles)"
echo "added latency per message: $(fields | awk '{ print $3 - $2 }' | percentiles) (goal p99 < 2 ms)"

python3 - "$PROXY_PORT" "$PROXY_PID" <<'PY'
import socket, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]
socks = []
for _ in range(1000):
    s = socket.create_connection(("127.0.0.1", port))
    s.recv(100)
    socks.append(s)
time.sleep(1)
rss = [l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1]
print(f"1,000 idle connections: proxy RSS {int(rss) // 1024} MB (goal < 100 MB)")
PY

# A 50 MB message (a 36 MB CSV attachment, base64) relayed once: the peak
# resident memory it adds, in multiples of the message size.
python3 - "$PROXY_PORT" "$PROXY_PID" <<'PY'
import base64, smtplib, sys
port, pid = int(sys.argv[1]), sys.argv[2]
def peak():
    return int([l for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM")][0].split()[1]) * 1024
row = b"2026-11-28,ACME Corp,Account Manager,renewal,1234.56,EUR\n"
csv = row * (36_000_000 // len(row))
b64 = base64.encodebytes(csv).replace(b"\n", b"\r\n")
message = (b"From: alice@example.com\r\nTo: bob@partner.org\r\nSubject: export\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nthe export\r\n"
           b"--b\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename=export.csv\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" + b64 + b"--b--\r\n")
before = peak()
with smtplib.SMTP("127.0.0.1", port) as s:
    s.sendmail("alice@example.com", ["bob@partner.org"], message)
grown = peak() - before
print(f"{len(message) / 1e6:.0f} MB message: peak RSS grew {grown / 1e6:.0f} MB = {grown / len(message):.1f}x the message "
      f"(the message, its decoded attachment and the text scanned)")
PY
