#!/bin/bash
# supervision.sh - no silent half-death: a daemon that loses a packet thread, its data
# path worker, its interface hook thread or a task of its event loop stops with an error
# naming it (exit 1, so that systemd's Restart=on-failure brings it back) after removing
# what it created;
# the control socket is bounded on both ends (silent clients are cut and never crowd
# out `ikev1d show`; `ikev1d show` gives up on a daemon that does not answer).
# Namespaces $IKT_NS-sv-r2/-r3.
#
# The faults are injected with IKEV1D_TEST_PANIC=NAME (the thread or task whose name
# starts with NAME panics as it starts), a hook that only debug builds have: this suite
# always runs the dev profile's ikev1d.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin supervision
IKT_BIN=$IKT_TARGET/debug/ikev1d
R2=$IKT_NS-sv-r2 R3=$IKT_NS-sv-r3
routers $R2 2001:db8::2 $R3 2001:db8::3 64

# A daemon that never answers, for `ikev1d show` (asked first: it takes 15 s).
python3 - "$IKT_RUN/mute.sock" <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen()
conn = s.accept()[0]
time.sleep(40)
EOF
IKT_PIDS+=($!)
until_true 5 test -S "$IKT_RUN/mute.sock"
mute_t0=$SECONDS
( rc=0; "$IKT_BIN" show ipsec --socket "$IKT_RUN/mute.sock" >"$IKT_RUN/mute.out" 2>&1 || rc=$?
  echo $rc >"$IKT_RUN/mute.rc" ) &
mute_client=$!

# faulty NAME [ARGS...]: run R2 (with ARGS) with IKEV1D_TEST_PANIC=NAME until it exits
# (at most 30 s); its exit status in $IKT_RUN/NAME.rc, its log in $IKT_RUN/NAME.log.
faulty() {
    local rc=0
    ip netns exec $R2 env IKEV1D_TEST_PANIC="$1" RUST_LOG=ikev1d=info \
        timeout 30 "$IKT_BIN" run --dataplane userspace --config examples/r2.conf \
        --socket "$IKT_RUN/$1.sock" "${@:2}" >"$IKT_RUN/$1.log" 2>&1 || rc=$?
    echo "$rc" >"$IKT_RUN/$1.rc"
}
# died NAME WHAT: R2 with fault NAME exited 1, its last word naming WHAT and the panic
died() {
    [ "$(cat "$IKT_RUN/$1.rc")" = 1 ] &&
        grep -qE "^ikev1d: $2 panicked: injected fault" "$IKT_RUN/$1.log"
}
no_tunnel() { ! ip -n $R2 link show Tunnel23 >/dev/null 2>&1; }

faulty esp-rx
check "a panicking receive thread: exit 1, the error names it" died esp-rx "thread esp-rx-[A-Za-z0-9]+"
check "... Tunnel23 removed on the way out" no_tunnel
faulty dataplane-worker
check "a panicking data path worker: exit 1, named" died dataplane-worker "thread dataplane-worker"
check "... Tunnel23 removed on the way out" no_tunnel
faulty control
check "a panicking control socket task: exit 1, named" died control "task control socket"
faulty ike-rx
check "a panicking IKE receive thread: exit 1, named" died ike-rx "thread ike-rx"
check "... Tunnel23 removed on the way out" no_tunnel
faulty interface-hook --interface-hook /bin/true
check "a panicking interface hook thread: exit 1, named" died interface-hook "thread interface-hook"
check "... Tunnel23 removed on the way out" no_tunnel

# The control socket of a healthy daemon, crowded by clients that say nothing.
start_ikev1d $R2 examples/r2.conf "$IKT_RUN/r2.log" --dataplane userspace
check "R2 listening" listening $R2 10
ip netns exec $R2 python3 - "$IKT_RUN/$R2.sock" >"$IKT_RUN/idle.out" <<'EOF' &
import socket, sys, time
socks = []
for _ in range(24):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); socks.append(s)
t0 = time.time()
for s in socks:
    s.settimeout(15)
    try:
        s.recv(1)
    except OSError:
        pass
print(round(time.time() - t0, 1))
EOF
idle=$!
sleep 1
check "24 silent clients connected: the daemon still runs" kill -0 "$(cat "$IKT_RUN/$R2.pid")"
turned_away() {
    local out rc=0
    out=$(ip netns exec $R2 timeout 3 "$IKT_BIN" show isakmp --socket "$IKT_RUN/$R2.sock" 2>&1) || rc=$?
    echo "    $out"
    [ $rc = 1 ] && [[ $out == *"without a reply"* ]]
}
check "... a 25th is turned away at once, not left hanging" turned_away
wait $idle
echo "    silent clients cut after $(cat "$IKT_RUN/idle.out") s"
check "silent clients are cut within 6 s" awk -v t="$(cat "$IKT_RUN/idle.out")" 'BEGIN { exit !(t < 6) }'
answers_json() { show $R2 isakmp --json | jq -e 'type == "array"' >/dev/null; }
check "then show isakmp answers" answers_json

wait $mute_client || true
mute_s=$((SECONDS - mute_t0))
echo "    show against a mute daemon: exit $(cat "$IKT_RUN/mute.rc") after $mute_s s: $(cat "$IKT_RUN/mute.out")"
check "show against a daemon that never answers: exit 1 within 20 s" \
    test "$(cat "$IKT_RUN/mute.rc")" = 1 -a "$mute_s" -lt 20
check "... saying it got no reply" grep -q "did not answer: no reply within 15 s" "$IKT_RUN/mute.out"
suite_end
