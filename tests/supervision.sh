#!/bin/bash
# supervision.sh - no silent half-death: a daemon that loses a packet thread, its data
# path worker or a task of its event loop stops with an error naming it (exit 1, so
# that systemd's Restart=on-failure brings it back) after removing what it created;
# the control socket is bounded on both ends (silent clients are cut and never crowd
# out `ikev1d show`; `ikev1d show` gives up on a daemon that does not answer).
#
# The faults are injected with IKEV1D_TEST_PANIC, a hook that only debug builds have:
# this suite runs target/debug/ikev1d (cargo test builds it; built here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
IKT_RUN=$(mktemp -d /tmp/ikt-c-sup.XXXXXX)
. scripts/lib.sh
IKT_BIN=$PWD/target/debug/ikev1d
[ -x "$IKT_BIN" ] || cargo build --quiet --bin ikev1d
trap lib_cleanup EXIT

routers ikt-c-r2 2001:db8::2 ikt-c-r3 2001:db8::3 64

# A daemon that never answers, for `ikev1d show` (started first: it takes 15 s).
python3 - "$IKT_RUN/mute.sock" <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen()
conns = [s.accept()[0] for _ in range(1)]
time.sleep(40)
EOF
IKT_PIDS+=($!)
for _ in $(seq 1 50); do [ -S "$IKT_RUN/mute.sock" ] && break; sleep 0.1; done
t0=$EPOCHREALTIME
( rc=0; "$IKT_BIN" show ipsec --socket "$IKT_RUN/mute.sock" >"$IKT_RUN/mute.out" 2>&1 || rc=$?
  echo $rc >"$IKT_RUN/mute.rc" ) &
mute_client=$!

# faulty NAME: run R2 with IKEV1D_TEST_PANIC=NAME until it exits (at most 30 s);
# its exit status in $IKT_RUN/NAME.rc, its stderr in $IKT_RUN/NAME.log.
faulty() {
    local rc=0
    ip netns exec ikt-c-r2 env IKEV1D_TEST_PANIC="$1" RUST_LOG=ikev1d=info \
        timeout 30 "$IKT_BIN" run --dataplane userspace --config examples/r2.conf \
        --socket "$IKT_RUN/$1.sock" >"$IKT_RUN/$1.log" 2>&1 || rc=$?
    echo "$rc" >"$IKT_RUN/$1.rc"
}
exited_1() { [ "$(cat "$IKT_RUN/$1.rc")" = 1 ]; }
no_tunnel() { ! ip -n ikt-c-r2 link show Tunnel23 >/dev/null 2>&1; }

for fault in esp-rx dataplane-worker control "IKE receive"; do
    faulty "$fault"
done
check "a panicking receive thread: exit 1" exited_1 esp-rx
check "... the error names the thread and the panic" \
    grep -qE '^ikev1d: thread esp-rx-[A-Za-z0-9]+ panicked: injected fault' "$IKT_RUN/esp-rx.log"
check "... Tunnel23 removed on the way out" no_tunnel
check "a panicking data path worker: exit 1, named" bash -c \
    "[ \$(cat '$IKT_RUN/dataplane-worker.rc') = 1 ] && grep -q '^ikev1d: thread dataplane-worker panicked: injected fault' '$IKT_RUN/dataplane-worker.log'"
check "... Tunnel23 removed on the way out" no_tunnel
check "a panicking control socket task: exit 1, named" bash -c \
    "[ \$(cat '$IKT_RUN/control.rc') = 1 ] && grep -q '^ikev1d: task control socket panicked: injected fault' '$IKT_RUN/control.log'"
check "a panicking IKE receive task: exit 1, named" bash -c \
    "[ \$(cat '$IKT_RUN/IKE receive.rc') = 1 ] && grep -q '^ikev1d: task IKE receive panicked: injected fault' '$IKT_RUN/IKE receive.log'"
check "... Tunnel23 removed on the way out" no_tunnel

# The control socket of a healthy daemon, crowded by clients that say nothing.
start_ikev1d ikt-c-r2 examples/r2.conf "$IKT_RUN/r2.log" --dataplane userspace
for _ in $(seq 1 50); do [ -S "$IKT_RUN/ikt-c-r2.sock" ] && break; sleep 0.1; done
ip netns exec ikt-c-r2 python3 - "$IKT_RUN/ikt-c-r2.sock" >"$IKT_RUN/idle.out" <<'EOF' &
import socket, sys, time
socks = []
for _ in range(24):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); socks.append(s)
t0 = time.time()
cut = []
for s in socks:
    s.settimeout(15)
    try:
        s.recv(1)
    except OSError:
        pass
    cut.append(time.time() - t0)
print(max(cut))
EOF
idle=$!
sleep 1
check "while 24 silent clients are connected, the daemon still runs" kill -0 "$(cat "$IKT_RUN/ikt-c-r2.pid")"
turned_away() {
    local out rc=0
    out=$(timeout 3 ip netns exec ikt-c-r2 "$IKT_BIN" show isakmp \
        --socket "$IKT_RUN/ikt-c-r2.sock" 2>&1) || rc=$?
    echo "$out"
    [ $rc = 1 ] && [[ $out == *"without a reply"* ]]
}
check "... and a 25th is turned away at once, not left hanging" turned_away
wait $idle
echo "silent clients cut after $(cat "$IKT_RUN/idle.out") s"
check "silent clients are cut within 6 s" python3 -c "import sys; sys.exit(0 if float('$(cat "$IKT_RUN/idle.out")') < 6 else 1)"
answers() { show ikt-c-r2 isakmp --json | python3 -c 'import json, sys; json.load(sys.stdin)'; }
check "then show isakmp answers" answers

wait $mute_client || true
t1=$EPOCHREALTIME
echo "show against a mute daemon: exit $(cat "$IKT_RUN/mute.rc") after $(python3 -c "print(round($t1 - $t0, 1))") s: $(cat "$IKT_RUN/mute.out")"
check "show against a daemon that never answers: exit 1 within 20 s" bash -c \
    "[ \$(cat '$IKT_RUN/mute.rc') = 1 ] && python3 -c 'import sys; sys.exit(0 if $t1 - $t0 < 20 else 1)'"
check "... saying it got no reply" grep -q "no reply within 15 s" "$IKT_RUN/mute.out"

if [ $IKT_FAILED != 0 ]; then
    for f in "$IKT_RUN"/*.log; do echo "--- $f"; tail -15 "$f"; done
fi
exit $IKT_FAILED
