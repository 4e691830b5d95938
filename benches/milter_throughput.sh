#!/usr/bin/env bash
# Milter throughput: smtp-source → a private Postfix → smtp-sink, with
# Sluice as the milter (DLP on, demo policy) on a unix socket, on TCP, and
# without it, alternated in one run. Postfix's own queue and fsyncs are the
# cost of every path.
#
#   apt-get install postfix        # smtp-source, smtp-sink; run as root
#   bash benches/milter_throughput.sh [MESSAGES] [ROUNDS]
#
# Goal (issue 14): with the milter >= 0.8 of Postfix alone, for the
# README's same-host recipe (the unix socket); TCP is reported beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh
N=${1:-2000}
ROUNDS=${2:-3}
[ "$(id -u)" = 0 ] || { echo "needs root (Postfix's master)" >&2; exit 2; }
cargo build --release -q -p sluice-proxy
WORK=$(mktemp -d)
SINK=25301; PLAIN=25302; FILTERED=25303; MILTER=25304; UNIX=25305
created_main_cf=0
cleanup() {
    postfix -c "$WORK/etc" stop > /dev/null 2>&1 || true
    postconf -X alternate_config_directories || true
    [ "$created_main_cf" = 1 ] && rm -f /etc/postfix/main.cf
    kill $(jobs -p) 2> /dev/null || true
    [ -n "$KEEP" ] || rm -rf "$WORK"
}
trap cleanup EXIT
KEEP=${KEEP:-}
smtp-sink -u postfix 127.0.0.1:$SINK 1000 &
mkdir -p "$WORK"/{etc,queue,data,sluice-tcp,sluice-unix}
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
postconf -c "$WORK/etc" -Me "127.0.0.1:$UNIX/inet = 127.0.0.1:$UNIX inet n - n - - smtpd"
postconf -c "$WORK/etc" -P "127.0.0.1:$UNIX/inet/smtpd_milters = unix:$WORK/sluice-unix/milter.sock"
postconf -c "$WORK/etc" -P "127.0.0.1:$UNIX/inet/milter_default_action = tempfail"
chown -R postfix "$WORK/data"
[ -e /etc/postfix/main.cf ] || { touch /etc/postfix/main.cf; created_main_cf=1; }
postconf -e "alternate_config_directories = $WORK/etc"
# Two Sluice milters, alike but for where they listen. The unix socket is
# mode 0660: Sluice runs in Postfix's group, as the README's recipe grants.
for front in tcp unix; do
    dir=$WORK/sluice-$front
    cp -r fixtures/demo/dictionaries fixtures/demo/board.fp "$dir/"
    listen=127.0.0.1:$MILTER
    [ $front = unix ] && listen=unix:$dir/milter.sock
    {
        printf '[proxy]\nlisten = ""\nhostname = "dlp.bench"\n\n[milter]\nlisten = "%s"\n\n' "$listen"
        printf '[upstream]\naddress = "127.0.0.1:%s"\nstarttls = "off"\n\n[store]\npath = "data/sluice.db"\n\n' $SINK
        sed -n '/^\[\[entity\]\]/,$p' fixtures/demo/sluice.toml
    } > "$dir/sluice.toml"
    (cd "$dir" && exec setpriv --regid postfix --clear-groups "$OLDPWD/target/release/sluice-proxy" --config sluice.toml 2> log) &
    echo $! > "$dir/pid"
done
postfix -c "$WORK/etc" start || { cat "$WORK/maillog" >&2; exit 1; }
sleep 2

# Each run starts on an idle machine: the one before it has been delivered
# (Postfix delivering a run's backlog would slow the next run down).
drained() {
    local started=$SECONDS
    while [ -n "$(find "$WORK/queue/incoming" "$WORK/queue/active" "$WORK/queue/maildrop" -type f -print -quit)" ]; do
        [ $(( SECONDS - started )) -lt 120 ] || { echo "error: the queue did not drain" >&2; exit 1; }
        sleep 0.2
    done
}
plain=0; unix=0; tcp=0
for r in $(seq "$ROUNDS"); do
    drained; p=$(run_ms $PLAIN); drained; u=$(run_ms $UNIX); drained; t=$(run_ms $FILTERED)
    echo "round $r: Postfix alone ${p} ms, with the Sluice milter on a unix socket ${u} ms, on TCP ${t} ms"
    echo "$p $u $t" >> "$WORK/rounds"
    plain=$(( plain + p )); unix=$(( unix + u )); tcp=$(( tcp + t ))
done
# The median of the rounds' own ratios: a round is one moment of the
# machine, so a slow spell moves one ratio, not the verdict.
median_ratio() {
    awk -v c="$1" '{ print $1 / $c }' "$WORK/rounds" | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo "Postfix alone:               $(( N * ROUNDS * 1000 / plain )) messages/s accepted"
echo "milter on a unix socket:     $(( N * ROUNDS * 1000 / unix )) messages/s accepted  ratio $(median_ratio 2) (median of rounds; goal >= 0.8)"
echo "milter on TCP:               $(( N * ROUNDS * 1000 / tcp )) messages/s accepted  ratio $(median_ratio 3)"
# CPU seconds (user + system) a process has used, from /proc (clock ticks).
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$1/stat"; }
for front in unix tcp; do
    log=$WORK/sluice-$front/log
    echo "$front: Sluice's CPU per message $(awk -v ms="$(cpu_ms "$(cat "$WORK/sluice-$front/pid")")" -v n=$(( N * ROUNDS )) 'BEGIN { printf "%.3f", ms / n }') ms"
    echo "$front: milter transactions logged: $(grep -c "transaction" "$log"); time in Sluice per message: $(sed -n "s/.*total_ms=\([0-9.]*\).*/\1/p" "$log" | sort -n | awk "{ v[NR] = \$1 } END { if (NR) printf \"p50 %.2f ms, p99 %.2f ms\", v[int(NR * 0.5)], v[int(NR * 0.99)] }")"
done
# A milter that refused mail would make its path look fast: every message
# must have been scanned.
for front in unix tcp; do
    n=$(grep -c "transaction" "$WORK/sluice-$front/log" || true)
    [ "$n" -eq $(( N * ROUNDS )) ] || { echo "error: the $front milter scanned $n of $(( N * ROUNDS )) messages" >&2; exit 1; }
done
