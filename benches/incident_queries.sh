#!/usr/bin/env bash
# Incident queries at scale: the console's and the API's incident list over
# a store of many incidents, with and without a filter (SPEC §8 query
# language), median of ROUNDS requests each.
#
#   apt-get install postfix   # smtp-sink
#   bash benches/incident_queries.sh [INCIDENTS] [ROUNDS]
#
# Goal: every query answers in well under a second, so a reviewer's page
# and an API client never wait on the store.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh
N=${1:-20000}
ROUNDS=${2:-5}
command -v smtp-sink > /dev/null || { echo "smtp-sink not found: apt-get install postfix" >&2; exit 2; }
cargo build --release -q -p sluice-proxy
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2> /dev/null || true; rm -rf "$WORK"' EXIT
SINK_PORT=25261
PROXY_PORT=25262
API_PORT=25263
smtp-sink -u postfix 127.0.0.1:$SINK_PORT 1000 &
demo_proxy_config "$WORK/demo" $PROXY_PORT $SINK_PORT "" \
    "$(printf '[api]\nlisten = "127.0.0.1:%s"\ntokens = ["bench"]\n\n' "$API_PORT")"
target/release/sluice-proxy --config "$WORK/demo/sluice.toml" 2> "$WORK/proxy.log" &
sleep 1
python3 - "$PROXY_PORT" "$API_PORT" "$N" "$ROUNDS" <<'PY'
import json, smtplib, statistics, sys, threading, time, urllib.parse, urllib.request
smtp, api, n, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
card = open("fixtures/demo/messages/card-number.eml", "rb").read()
board = open("fixtures/demo/messages/board-excerpt.eml", "rb").read()
def send(count, body, rcpt):
    c = smtplib.SMTP("127.0.0.1", smtp)
    for _ in range(count):
        try:
            c.sendmail("alice@example.com", [rcpt], body)
        except smtplib.SMTPDataError:
            pass
    c.quit()
# Blocked card messages, and one in a hundred held board papers.
threads = [threading.Thread(target=send, args=(n // 8, card, "shop@partner.org")) for _ in range(8)]
threads.append(threading.Thread(target=send, args=(n // 100, board, "advisor@partner.org")))
[t.start() for t in threads]
[t.join() for t in threads]
def get(params):
    url = "http://127.0.0.1:%d/api/v1/incidents?%s" % (api, urllib.parse.urlencode(params))
    req = urllib.request.Request(url, headers={"Authorization": "Bearer bench"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=300) as r:
        data = json.load(r)["data"]
    return time.perf_counter() - t, len(data)
while get({"limit": 1000, "offset": n + n // 100 - 1})[1] == 0:
    time.sleep(0.2)  # the writer commits in batches
print("incidents: %d" % (n + n // 100))
for label, params in [
    ("newest 50", {"limit": 50}),
    ("page at offset N/2", {"limit": 50, "offset": n // 2}),
    ("policy eq (1 in 100)", {"limit": 50, "query": "policy eq 'Board papers quarantine'"}),
    ("subject like (1 in 100)", {"limit": 50, "query": "subject like '*notes*'"}),
    ("not policy eq (99 in 100)", {"limit": 50, "query": "not policy eq 'Card block'"}),
    ("last hour, 1,000", {"limit": 1000, "timeperiod": 3600}),
]:
    times = [get(params)[0] for _ in range(rounds)]
    print("%-28s median %8.1f ms  max %8.1f ms" % (label, statistics.median(times) * 1000, max(times) * 1000))
PY
