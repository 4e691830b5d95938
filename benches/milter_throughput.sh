#!/usr/bin/env bash
# Milter throughput: smtp-source → a private Postfix → smtp-sink, with
# Sluice as the milter (DLP on, demo policy) on a unix socket, on TCP, and
# without it, alternated in one run; and, as a yardstick, with a milter
# that does nothing (benches/null_milter.c: Sendmail's libmilter, the same
# steps negotiated) on a unix socket and on TCP. Postfix's own queue and fsyncs are the
# cost of every path.
#
#   apt-get install postfix libmilter-dev   # smtp-source, smtp-sink; run as root
#   bash benches/milter_throughput.sh [MESSAGES] [ROUNDS]
#
# Two times per run: until smtp-source has handed over its last message
# (accepted), and until the queue is empty, every message delivered to
# smtp-sink (delivered: the pipeline's throughput, smtp-source to
# smtp-sink). Goal (issue 14): with the milter >= 0.8 of Postfix alone,
# for the README's same-host recipe (the unix socket); TCP is reported
# beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh
N=${1:-2000}
ROUNDS=${2:-3}
[ "$(id -u)" = 0 ] || { echo "needs root (Postfix's master)" >&2; exit 2; }
[ -e /usr/include/libmilter/mfapi.h ] || { echo "needs libmilter-dev (the null milter): apt-get install libmilter-dev" >&2; exit 2; }
cargo build --release -q -p sluice-proxy
WORK=$(mktemp -d)
SINK=25301; PLAIN=25302; FILTERED=25303; MILTER=25304; UNIX=25305; NULL=25306; NULL_TCP=25307; NULL_MILTER=25308
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
mkdir -p "$WORK"/{etc,queue,data,sluice-tcp,sluice-unix,null}
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
postconf -c "$WORK/etc" -Me "127.0.0.1:$NULL/inet = 127.0.0.1:$NULL inet n - n - - smtpd"
postconf -c "$WORK/etc" -P "127.0.0.1:$NULL/inet/smtpd_milters = unix:$WORK/null/milter.sock"
postconf -c "$WORK/etc" -P "127.0.0.1:$NULL/inet/milter_default_action = tempfail"
postconf -c "$WORK/etc" -Me "127.0.0.1:$NULL_TCP/inet = 127.0.0.1:$NULL_TCP inet n - n - - smtpd"
postconf -c "$WORK/etc" -P "127.0.0.1:$NULL_TCP/inet/smtpd_milters = inet:127.0.0.1:$NULL_MILTER"
postconf -c "$WORK/etc" -P "127.0.0.1:$NULL_TCP/inet/milter_default_action = tempfail"
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
# The yardstick: a milter that does nothing, its socket for Postfix's group.
gcc -O2 -o "$WORK/null_milter" benches/null_milter.c -lmilter -lpthread
(umask 007 && exec setpriv --regid postfix --clear-groups "$WORK/null_milter" "unix:$WORK/null/milter.sock") &
echo $! > "$WORK/null/pid"
"$WORK/null_milter" "inet:$NULL_MILTER@127.0.0.1" &
echo $! > "$WORK/null/tcp-pid"
postfix -c "$WORK/etc" start || { cat "$WORK/maillog" >&2; exit 1; }
sleep 2

# Waits until every message is out of the queue (deferred too: a message
# smtp-sink did not take is a failed run, not a slow one). Each run starts
# on an idle machine (Postfix delivering a run's backlog would slow the
# next run down), and a run's delivered time ends here.
drained() {
    local started=$SECONDS
    while [ -n "$(find "$WORK/queue/incoming" "$WORK/queue/active" "$WORK/queue/maildrop" "$WORK/queue/deferred" -type f -print -quit)" ]; do
        [ $(( SECONDS - started )) -lt 120 ] || { echo "error: the queue did not drain" >&2; exit 1; }
        sleep 0.01
    done
}
# One run through PORT: "ACCEPTED_MS DELIVERED_MS", both from its start.
accepted_and_delivered() {
    local s accepted
    s=$(date +%s%N)
    accepted=$(run_ms "$1")
    drained
    echo "$accepted $(( ($(date +%s%N) - s) / 1000000 ))"
}
for r in $(seq "$ROUNDS"); do
    drained
    # Assignments, so that a run that fails (set -e) ends the benchmark.
    times=$(accepted_and_delivered $PLAIN); read -r p pd <<< "$times"
    times=$(accepted_and_delivered $UNIX); read -r u ud <<< "$times"
    times=$(accepted_and_delivered $FILTERED); read -r t td <<< "$times"
    times=$(accepted_and_delivered $NULL); read -r z zd <<< "$times"
    times=$(accepted_and_delivered $NULL_TCP); read -r y yd <<< "$times"
    echo "round $r: Postfix alone ${p} ms accepted, ${pd} ms delivered; with the Sluice milter on a unix socket ${u} / ${ud} ms, on TCP ${t} / ${td} ms; with the null milter ${z} / ${zd} ms, on TCP ${y} / ${yd} ms"
    echo "$p $u $t $pd $ud $td $z $zd $y $yd" >> "$WORK/rounds"
done
# The median of the rounds' own ratios (column C of Postfix alone's time
# over column D's): a round is one moment of the machine, so a slow spell
# moves one ratio, not the verdict.
median_ratio() {
    awk -v c="$1" -v d="$2" '{ print $c / $d }' "$WORK/rounds" | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# Messages a second over all rounds, from column C's times.
rate() { awk -v c="$1" -v n="$N" '{ t += $c } END { printf "%d", n * NR * 1000 / t }' "$WORK/rounds"; }
echo "Postfix alone:               $(rate 1) messages/s accepted, $(rate 4) delivered"
echo "milter on a unix socket:     $(rate 2) messages/s accepted (ratio $(median_ratio 1 2)), $(rate 5) delivered (ratio $(median_ratio 4 5); goal >= 0.8)"
echo "milter on TCP:               $(rate 3) messages/s accepted (ratio $(median_ratio 1 3)), $(rate 6) delivered (ratio $(median_ratio 4 6))"
echo "null milter (does nothing):  $(rate 7) messages/s accepted (ratio $(median_ratio 1 7)), $(rate 8) delivered (ratio $(median_ratio 4 8))"
echo "null milter on TCP:          $(rate 9) messages/s accepted (ratio $(median_ratio 1 9)), $(rate 10) delivered (ratio $(median_ratio 4 10))"
echo "Sluice against the null milter: unix socket, accepted $(median_ratio 7 2), delivered $(median_ratio 8 5); TCP, accepted $(median_ratio 9 3), delivered $(median_ratio 10 6)"
echo "(ratios: medians of the rounds' own)"
# CPU seconds (user + system) a process has used, from /proc (clock ticks).
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$1/stat"; }
for pid in pid tcp-pid; do
    echo "null milter ($pid): CPU per message $(awk -v ms="$(cpu_ms "$(cat "$WORK/null/$pid")")" -v n=$(( N * ROUNDS )) 'BEGIN { printf "%.3f", ms / n }') ms"
done
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
