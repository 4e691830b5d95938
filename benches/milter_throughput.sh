#!/usr/bin/env bash
# Milter throughput: smtp-source → a private Postfix → smtp-sink, with
# Sluice as the milter (DLP on, demo policy) and without it, alternated in
# one run. Postfix's own queue and fsyncs are the cost of both paths.
#
#   apt-get install postfix        # smtp-source, smtp-sink; run as root
#   bash benches/milter_throughput.sh [MESSAGES] [ROUNDS]
#
# Goal (issue 14): with the milter >= 0.8 of Postfix alone.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh
N=${1:-2000}
ROUNDS=${2:-3}
[ "$(id -u)" = 0 ] || { echo "needs root (Postfix's master)" >&2; exit 2; }
cargo build --release -q -p sluice-proxy
WORK=$(mktemp -d)
SINK=25301; PLAIN=25302; FILTERED=25303; MILTER=25304
created_main_cf=0
cleanup() {
    postfix -c "$WORK/etc" stop > /dev/null 2>&1 || true
    postconf -X alternate_config_directories || true
    [ "$created_main_cf" = 1 ] && rm -f /etc/postfix/main.cf
    kill $(jobs -p) 2> /dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
smtp-sink -u postfix 127.0.0.1:$SINK 1000 &
mkdir -p "$WORK"/{etc,queue,data,sluice}
chmod 755 "$WORK"
cp /etc/postfix/master.cf "$WORK/etc/"
cat > "$WORK/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $WORK/queue
data_directory = $WORK/data
mail_owner = postfix
myhostname = mta.bench
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$SINK
smtp_tls_security_level = none
maillog_file = $WORK/maillog
maillog_file_prefixes = $WORK
smtpd_relay_restrictions = permit_mynetworks, reject
alias_maps =
alias_database =
local_recipient_maps =
default_process_limit = 200
CF
postconf -c "$WORK/etc" -F '*/*/chroot = n'
postconf -c "$WORK/etc" -M# smtp/inet
postconf -c "$WORK/etc" -Me "127.0.0.1:$PLAIN/inet = 127.0.0.1:$PLAIN inet n - n - - smtpd"
postconf -c "$WORK/etc" -Me "127.0.0.1:$FILTERED/inet = 127.0.0.1:$FILTERED inet n - n - - smtpd"
postconf -c "$WORK/etc" -P "127.0.0.1:$FILTERED/inet/smtpd_milters = inet:127.0.0.1:$MILTER"
postconf -c "$WORK/etc" -P "127.0.0.1:$FILTERED/inet/milter_default_action = tempfail"
chown -R postfix "$WORK/data"
[ -e /etc/postfix/main.cf ] || { touch /etc/postfix/main.cf; created_main_cf=1; }
postconf -e "alternate_config_directories = $WORK/etc"
cp -r fixtures/demo/dictionaries fixtures/demo/board.fp "$WORK/sluice/"
{
    printf '[proxy]\nlisten = ""\nhostname = "dlp.bench"\n\n[milter]\nlisten = "127.0.0.1:%s"\n\n' $MILTER
    printf '[upstream]\naddress = "127.0.0.1:%s"\nstarttls = "off"\n\n[store]\npath = "data/sluice.db"\n\n' $SINK
    sed -n '/^\[\[entity\]\]/,$p' fixtures/demo/sluice.toml
} > "$WORK/sluice/sluice.toml"
target/release/sluice-proxy --config "$WORK/sluice/sluice.toml" 2> "$WORK/sluice.log" &
postfix -c "$WORK/etc" start || { cat "$WORK/maillog" >&2; exit 1; }
sleep 2

plain=0; filtered=0
for r in $(seq "$ROUNDS"); do
    p=$(run_ms $PLAIN); f=$(run_ms $FILTERED)
    echo "round $r: Postfix alone ${p} ms, with the Sluice milter ${f} ms"
    plain=$(( plain + p )); filtered=$(( filtered + f ))
done
echo "Postfix alone:     $(( N * ROUNDS * 1000 / plain )) messages/s accepted"
echo "with the milter:   $(( N * ROUNDS * 1000 / filtered )) messages/s accepted  ratio $(awk -v a="$plain" -v b="$filtered" 'BEGIN { printf "%.2f", a / b }') (goal >= 0.8)"
echo "milter transactions logged: $(grep -c "transaction" "$WORK/sluice.log")"
echo "time in Sluice per message: $(sed -n "s/.*total_ms=\([0-9.]*\).*/\1/p" "$WORK/sluice.log" | sort -n | awk "{ v[NR] = \$1 } END { if (NR) printf \"p50 %.2f ms, p99 %.2f ms\", v[int(NR * 0.5)], v[int(NR * 0.99)] }")"
