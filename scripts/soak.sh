#!/bin/bash
# soak.sh - a long run of Tunnel23 under rekeys and traffic (not part of CI).
#
#   sudo ./scripts/soak.sh [--duration S] [--lifetime S] [--help]
#
# Two ikev1d in network namespaces $SOAK_NS-r2/-r3 (default SOAK_NS=$IKT_NS-soak) with the
# seed's configuration, phase 2 lifetime --lifetime (30 s) and phase 1 lifetime twice
# that, on this machine's data path (userspace without kernel ESP). For --duration
# (600 s): ping -i 0.05 over Tunnel23 and a 20 Mbit/s iperf3 TCP stream throughout;
# every 10 s the VmRSS (/proc/PID/status) and open fds (/proc/PID/fd) of both daemons
# are sampled. Reports: pings lost (must be 0), rekeys seen, iperf3's result, and whether RSS and
# fds stayed flat (last minute against the first: RSS within +10% or +1 MiB, fds not
# more). Samples in $SOAK_DIR/samples.csv (default: a new /tmp/ikt-soak.XXXXXX, kept).
# Exit status 0 when nothing was lost and both stayed flat.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,16s/^# \{0,1\}//p' "$0"; }
duration=600 lifetime=30
while [ $# -gt 0 ]; do
    case $1 in
        --help|-h) usage; exit 0 ;;
        --duration) duration=$2; shift 2 ;;
        --lifetime) lifetime=$2; shift 2 ;;
        *) echo "soak.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
[ "$duration" -ge 120 ] || { echo "soak.sh: --duration must be >= 120 (first and last minute)" >&2; exit 2; }

IKT_RUN=$(mktemp -d /tmp/ikt-t.XXXXXX)
SOAK_DIR=${SOAK_DIR:-$(mktemp -d /tmp/ikt-soak.XXXXXX)}
mkdir -p "$SOAK_DIR"
# the release build: RSS and throughput as deployed
IKT_BIN=$PWD/target/release/ikev1d
. tests/lib.sh
trap 'ikt_cleanup; rm -rf "$IKT_RUN"' EXIT
export RUST_LOG=${RUST_LOG:-ikev1d=info}
cargo build --release -q

R2=${SOAK_NS:-$IKT_NS-soak}-r2 R3=${SOAK_NS:-$IKT_NS-soak}-r3
routers $R2 2001:db8::2 $R3 2001:db8::3 64
short_lifetimes examples/r2.conf "$SOAK_DIR/r2.conf" "$lifetime" $((lifetime * 2))
short_lifetimes examples/r3.conf "$SOAK_DIR/r3.conf" "$lifetime" $((lifetime * 2))
start_ikev1d $R3 "$SOAK_DIR/r3.conf" "$SOAK_DIR/r3.log"
start_ikev1d $R2 "$SOAK_DIR/r2.conf" "$SOAK_DIR/r2.log"
wait_sa $R2 20 || { echo "soak: Tunnel23 did not come up"; tail -20 "$SOAK_DIR"/r*.log; exit 1; }
pid2=$(cat "$IKT_RUN/$R2.pid") pid3=$(cat "$IKT_RUN/$R3.pid")

count=$((duration * 20))
PING_INTERVAL=0.05 ping_bg $R2 fe80::23:3%Tunnel23 $count "$SOAK_DIR/ping.txt"
ping_pid=$PING_PID
ip netns exec $R3 iperf3 -s -B 192.168.23.3 -1 >"$SOAK_DIR/iperf3-server.txt" 2>&1 &
IKT_PIDS+=($!)
sleep 0.5
ip netns exec $R2 iperf3 -c 192.168.23.3 -b 20M -t "$duration" -i 60 >"$SOAK_DIR/iperf3.txt" 2>&1 &
iperf_pid=$!
IKT_PIDS+=($iperf_pid)

# sample: seconds since start, then RSS (KiB) and fds of R2 and of R3
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
echo "t_s,r2_rss_kib,r2_fds,r3_rss_kib,r3_fds" >"$SOAK_DIR/samples.csv"
t0=$SECONDS
echo "soak: $duration s, phase 2 lifetime $lifetime s, samples every 10 s in $SOAK_DIR/samples.csv"
while [ $((SECONDS - t0)) -le "$duration" ]; do
    echo "$((SECONDS - t0)),$(rss "$pid2"),$(fds "$pid2"),$(rss "$pid3"),$(fds "$pid3")" >>"$SOAK_DIR/samples.csv"
    kill -0 "$pid2" 2>/dev/null && kill -0 "$pid3" 2>/dev/null || { echo "soak: a daemon died"; break; }
    sleep 10
done
wait "$ping_pid" || true
wait "$iperf_pid" || true

failed=0
echo "--- results"
lossless "$SOAK_DIR/ping.txt" "$duration" || failed=1
echo "    rekeys: $(( $(spis_in "$SOAK_DIR/r2.log") - 1 )) phase 2, $(( $(phase1_ups "$SOAK_DIR/r2.log") - 1 )) phase 1 (seen by R2)"
echo "    iperf3: $(grep -E 'sender|receiver' "$SOAK_DIR/iperf3.txt" | tr -s ' ' | tr '\n' ';')"
grep -q receiver "$SOAK_DIR/iperf3.txt" || failed=1
python3 - "$SOAK_DIR/samples.csv" "$duration" <<'EOF' || failed=1
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
duration = int(sys.argv[2])
first = [r for r in rows if int(r["t_s"]) < 60]
last = [r for r in rows if int(r["t_s"]) > duration - 60]
ok = True
for side in ("r2", "r3"):
    avg = lambda rs: sum(int(r[f"{side}_rss_kib"]) for r in rs) / len(rs)
    a, b = avg(first), avg(last)
    rss_flat = b <= max(a * 1.10, a + 1024)
    fa = max(int(r[f"{side}_fds"]) for r in first)
    fb = max(int(r[f"{side}_fds"]) for r in last)
    fds_flat = fb <= fa
    ok &= rss_flat and fds_flat
    print(f"    {side.upper()}: RSS {a:.0f} -> {b:.0f} KiB (first vs last minute average): "
          f"{'flat' if rss_flat else 'GROWING'}; fds {fa} -> {fb}: {'flat' if fds_flat else 'GROWING'}")
sys.exit(0 if ok else 1)
EOF
echo "soak: $([ $failed = 0 ] && echo PASS || echo FAIL) (logs and samples in $SOAK_DIR)"
exit $failed
