# lib.sh - shared helpers of demo.sh and the network test suites (sourced, not run).
#
# Two "routers" are network namespaces joined by a veth pair named eth0 on both sides,
# so that the seed's IOS configuration (tunnel source eth0) works unchanged.
# Everything started is tracked and removed by lib_cleanup (install it with trap).

IKT_PIDS=()
IKT_NETNS=()
IKT_FAILED=0
IKT_BIN=${IKT_BIN:-$PWD/target/release/ikev1d}

# check NAME CMD...: run CMD, print PASS/FAIL NAME, remember failures
check() {
    local name=$1; shift
    if "$@"; then echo "PASS $name"; else echo "FAIL $name"; IKT_FAILED=1; fi
}

# routers NS_A ADDR_A NS_B ADDR_B PREFIXLEN: two namespaces joined by eth0<->eth0
routers() {
    local a=$1 aa=$2 b=$3 ba=$4 len=$5
    ip netns add "$a"; IKT_NETNS+=("$a")
    ip netns add "$b"; IKT_NETNS+=("$b")
    ip link add "v-$a" netns "$a" type veth peer name "v-$b" netns "$b"
    ip -n "$a" link set "v-$a" name eth0
    ip -n "$b" link set "v-$b" name eth0
    local ns addr
    for ns in "$a" "$b"; do
        [ "$ns" = "$a" ] && addr=$aa || addr=$ba
        ip -n "$ns" link set lo up
        ip -n "$ns" addr add "$addr/$len" dev eth0 nodad
        ip -n "$ns" link set eth0 up
    done
}

# start_ikev1d NS CONFIG LOG [ARGS...]: run the daemon in NS, socket $IKT_RUN/NS.sock
start_ikev1d() {
    local ns=$1 conf=$2 log=$3; shift 3
    ip netns exec "$ns" env RUST_LOG=${RUST_LOG:-ikev1d=debug} "$IKT_BIN" run --config "$conf" \
        --socket "$IKT_RUN/$ns.sock" "$@" >"$log" 2>&1 &
    IKT_PIDS+=($!)
    echo $! > "$IKT_RUN/$ns.pid"
}

# show NS isakmp|ipsec [--json]
show() {
    local ns=$1; shift
    ip netns exec "$ns" "$IKT_BIN" show "$@" --socket "$IKT_RUN/$ns.sock"
}

# wait_sa NS SECONDS: until `show ipsec --json` lists an SA pair
wait_sa() {
    local ns=$1 secs=$2 i
    for i in $(seq 1 $((secs * 4))); do
        show "$ns" ipsec --json 2>/dev/null | grep -q '"spi"' && return 0
        sleep 0.25
    done
    return 1
}

# json_field NS ipsec|isakmp EXPR: evaluate a python expression on the parsed array `a`
json_field() {
    local ns=$1 what=$2 expr=$3
    show "$ns" "$what" --json | python3 -c "import json,sys; a=json.load(sys.stdin); print($expr)"
}

lib_cleanup() {
    set +e
    local p ns
    for p in "${IKT_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${IKT_PIDS[@]}"; do
        for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    for ns in "${IKT_NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
    [ -z "${IKT_RUN:-}" ] || rm -rf "$IKT_RUN"
}

# --- examples/dp_driver: a data path with fixed SAs and no IKE (data path suites, bench)
IKT_DRIVER=${IKT_DRIVER:-$PWD/target/release/examples/dp_driver}
declare -A IKT_DP_FD=() IKT_DP_PID=()

# start_dp_driver NS ARGS...: run dp_driver ARGS in NS, commands from a fifo this shell
# keeps open, replies in $IKT_RUN/NS.dp; waits for READY
start_dp_driver() {
    local ns=$1; shift
    local fifo=$IKT_RUN/$ns.fifo out=$IKT_RUN/$ns.dp fd i
    rm -f "$fifo" "$out"; mkfifo "$fifo"
    ip netns exec "$ns" "$IKT_DRIVER" "$@" <"$fifo" >"$out" 2>"$IKT_RUN/$ns.dp.err" &
    IKT_PIDS+=($!); IKT_DP_PID[$ns]=$!
    exec {fd}>"$fifo"
    IKT_DP_FD[$ns]=$fd
    for i in $(seq 1 100); do
        grep -q READY "$out" 2>/dev/null && return 0
        kill -0 "${IKT_DP_PID[$ns]}" 2>/dev/null || break
        sleep 0.05
    done
    echo "dp_driver in $ns did not start:" >&2; cat "$IKT_RUN/$ns.dp.err" >&2
    return 1
}

# dp_counters NS: the driver's SA counters, one JSON object {inbound, outbound}
dp_counters() {
    local ns=$1 out=$IKT_RUN/$1.dp n i
    n=$(wc -l <"$out")
    echo counters >&"${IKT_DP_FD[$ns]}"
    for i in $(seq 1 100); do
        [ "$(wc -l <"$out")" -gt "$n" ] && { tail -n 1 "$out"; return 0; }
        sleep 0.02
    done
    return 1
}

# stop_dp_driver NS: quit the driver (it removes its TUN device) and wait for it
stop_dp_driver() {
    local ns=$1 pid=${IKT_DP_PID[$1]} fd=${IKT_DP_FD[$1]} i
    echo quit >&"$fd" 2>/dev/null || true
    exec {fd}>&-
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    wait "$pid"
}
