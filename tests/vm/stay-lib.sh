# stay-lib.sh - helpers of the "tunnels stay up" suites (sourced after scripts/lib.sh,
# not run): config variants of the seed, lossless-ping and rekey counting, SA counts.
# Used on the host (tests/stay-up.sh, tests/diagnosis.sh, scripts/soak.sh) and in the
# VM (tests/vm/stay-up.sh).

# variant SRC OUT SED-SCRIPT...: OUT is SRC edited by sed (e.g. one line changed); the
# edit must change something, so that a typo in a test cannot silently test the seed.
variant() {
    local src=$1 out=$2; shift 2
    local args=() e
    for e in "$@"; do args+=(-e "$e"); done
    sed "${args[@]}" "$src" >"$out"
    if cmp -s "$src" "$out"; then
        echo "variant: sed $* did not change $src" >&2
        return 1
    fi
}

# short_lifetimes SRC OUT P2_S P1_S [SED-SCRIPT...]: the seed with `lifetime P1_S` in
# isakmp policy 10 and `set security-association lifetime seconds P2_S` in the profile
short_lifetimes() {
    local src=$1 out=$2 p2=$3 p1=$4; shift 4
    variant "$src" "$out" \
        "/^ *authentication pre-share/a lifetime $p1" \
        "/^ *set transform-set TRA/a set security-association lifetime seconds $p2" "$@"
}

# dpd_line S R: a sed script for variant: `crypto isakmp keepalive S R` after the key
dpd_line() { echo "/^crypto isakmp key/a crypto isakmp keepalive $1 $2"; }

# ping_bg NS TARGET COUNT OUT: ping every 0.1 s (or $PING_INTERVAL) in the background
# (its pid in PING_PID), summary to OUT; ends when COUNT echoes were answered or at the
# deadline (COUNT * interval + 15 s)
ping_bg() {
    local ns=$1 target=$2 count=$3 out=$4 iv=${PING_INTERVAL:-0.1}
    local deadline
    deadline=$(python3 -c "print(int($count * $iv + 15))")
    ip netns exec "$ns" ping -n -q -i "$iv" -c "$count" -w "$deadline" -W 2 "$target" >"$out" 2>&1 &
    PING_PID=$!
    IKT_PIDS+=("$PING_PID")
}

# lossless OUT COUNT: the ping summary in OUT says every echo sent was answered, and at
# least COUNT were sent (ping -c stops at COUNT answers: a loss shows as more sent; a
# slow machine may pace -i 0.05 slower, so with the deadline 90% of COUNT will do)
lossless() {
    local out=$1 count=$2 line
    line=$(grep 'packets transmitted' "$out" || true)
    echo "    ping: ${line:-no summary: $(tail -n 2 "$out" | tr '\n' ' ')}"
    [[ $line =~ ^([0-9]+)\ packets\ transmitted,\ ([0-9]+)\ received ]] &&
        [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] && [ "${BASH_REMATCH[1]}" -ge $((count * 9 / 10)) ]
}

# count LOG REGEX: lines of LOG matching REGEX (extended)
count() { grep -cE "$2" "$1" 2>/dev/null || true; }

# spis_in LOG: distinct inbound SPIs of the IPsec SAs LOG says came up
spis_in() { grep -oE 'IPsec SA up on [^ ]+ with [^ ]+: inbound spi 0x[0-9A-Fa-f]+' "$1" | awk '{print $NF}' | sort -u | wc -l; }

# phase1_ups LOG: ISAKMP SAs LOG says came up
phase1_ups() { count "$1" 'ISAKMP SA [0-9]+ with .* is up'; }

# show NS isakmp|ipsec [--json]: lib.sh's, bounded: a hung daemon must fail a check
# (wait_sa, json_field, ...), not hang the suite
show() {
    local ns=$1; shift
    ip netns exec "$ns" timeout 5 "$IKT_BIN" show "$@" --socket "$IKT_RUN/$ns.sock"
}

# count_sas NS isakmp|ipsec: how many SAs `show ... --json` lists ("?": no answer).
# Without python: in the emulated VM every process start costs.
count_sas() {
    local out
    out=$(show "$1" "$2" --json 2>/dev/null) || { echo "?"; return; }
    # one "local" key per object in both arrays (DESIGN.md: `show ... --json`)
    grep -o '"local"' <<<"$out" | wc -l
}

# wait_sa NS SECONDS: lib.sh's, on the clock rather than counting tries (a try takes
# seconds in the emulated VM)
wait_sa() {
    local t0=$SECONDS
    while [ $((SECONDS - t0)) -lt "$2" ]; do
        [ "$(count_sas "$1" ipsec)" -gt 0 ] 2>/dev/null && return 0
        sleep 0.25
    done
    return 1
}

# sa_counts NS: "<ISAKMP SAs> <IPsec SA pairs>"
sa_counts() { echo "$(count_sas "$1" isakmp) $(count_sas "$1" ipsec)"; }

# wait_counts NS "P1 P2" SECONDS: until sa_counts NS is exactly "P1 P2"
wait_counts() {
    local ns=$1 want=$2 secs=$3 t0=$SECONDS
    while [ $((SECONDS - t0)) -lt "$secs" ]; do
        [ "$(sa_counts "$ns")" = "$want" ] && return 0
        sleep 0.25
    done
    echo "    $ns holds $(sa_counts "$ns") (ISAKMP SAs, IPsec SA pairs), expected $want"
    return 1
}

# wait_pairs NS N SECONDS: until `show ipsec` lists N SA pairs
wait_pairs() {
    local t0=$SECONDS
    while [ $((SECONDS - t0)) -lt "$3" ]; do
        [ "$(count_sas "$1" ipsec)" = "$2" ] && return 0
        sleep 0.25
    done
    return 1
}

# pings NS TARGET N: N of N echoes answered (-i 0.1); shows ping's summary line
pings() {
    local out
    out=$(ip netns exec "$1" ping -n -q -c "$3" -i 0.1 -W 2 "$2" 2>&1) || true
    echo "    ping: $(grep 'packets transmitted' <<<"$out")"
    [[ $out =~ $3\ packets\ transmitted,\ $3\ received ]]
}

# --- scenarios run concurrently, each in a background subshell with its own namespaces
# and daemons (removed by its own lib_cleanup, which must leave the shared $IKT_RUN)
STAY_BG=()

# scenario NAME FUNC [ARGS...]: run FUNC in the background, output in $IKT_RUN/NAME.out
# (and, with STAY_TRACE=1, traced as it runs on stderr: for a scenario that hangs)
scenario() {
    local name=$1; shift
    exec 9>&2
    (
        IKT_PIDS=() IKT_NETNS=() IKT_FAILED=0
        trap 'exit 1' TERM INT
        trap 'IKT_RUN="" lib_cleanup' EXIT
        if [ "${STAY_TRACE:-}" = 1 ]; then
            PS4="+ $name: " BASH_XTRACEFD=9
            set -x
        fi
        "$@"
        exit $IKT_FAILED
    ) >"$IKT_RUN/$name.out" 2>&1 &
    STAY_BG+=("$name:$!")
}

# wait_scenarios [SECONDS]: wait for every scenario (at most SECONDS, default 300: then
# the rest are stopped and fail), print its output, fold in its result
wait_scenarios() {
    local e deadline=$((SECONDS + ${1:-300})) pid rc
    for e in "${STAY_BG[@]}"; do
        pid=${e#*:}
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            echo "FAIL ${e%%:*}: scenario still running after ${1:-300} s; stopped"
            IKT_FAILED=1
        else
            rc=0
            wait "$pid" || rc=$?
            if [ $rc != 0 ]; then
                IKT_FAILED=1
                # e.g. its namespaces exist already: say so even if no check ran
                grep -q '^FAIL' "$IKT_RUN/${e%%:*}.out" ||
                    echo "FAIL ${e%%:*}: scenario aborted (exit $rc) before its checks" >>"$IKT_RUN/${e%%:*}.out"
            fi
        fi
        cat "$IKT_RUN/${e%%:*}.out"
    done
    STAY_BG=()
}

# stop_scenarios: TERM every scenario still running and wait for its cleanup
stop_scenarios() {
    local e
    for e in "${STAY_BG[@]}"; do kill -TERM "${e#*:}" 2>/dev/null; done
    for e in "${STAY_BG[@]}"; do wait "${e#*:}" 2>/dev/null; done
    STAY_BG=()
}

# outbound_spi NS: the outbound SPI of the first pair `show ipsec` lists (empty: none)
outbound_spi() { show "$1" ipsec --json 2>/dev/null | grep -oE '"outbound": ?\{"spi": ?[0-9]+' | grep -oE '[0-9]+$' | head -n 1; }

# new_sa_within NS OLD_SPI SECONDS: until NS sends on another SA than OLD_SPI (after a
# peer's restart: the tunnel is back on SAs negotiated anew); prints how long it took
new_sa_within() {
    local ns=$1 old=$2 t0=$SECONDS spi
    while [ $((SECONDS - t0)) -lt "$3" ]; do
        spi=$(outbound_spi "$ns")
        if [ -n "$spi" ] && [ "$spi" != "$old" ]; then
            echo "    new SA pair (outbound spi $old -> $spi) after $((SECONDS - t0)) s"
            return 0
        fi
        sleep 0.25
    done
    echo "    still outbound spi ${spi:-none} after $3 s"
    return 1
}

# dump_logs TAG FILES...: the tails a failure needs
dump_logs() {
    local tag=$1 f; shift
    for f in "$@"; do echo "--- $tag: $f"; tail -n 30 "$f" 2>/dev/null; done
}
