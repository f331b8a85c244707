#!/bin/bash
# dpd-replay.sh - a captured R-U-THERE does not keep a dead peer alive (RFC 3706
# section 7; issue 11): R2 and R3 with `crypto isakmp keepalive 10 2`, Tunnel23 up;
# tcpdump on R2 captures one of R3's R-U-THEREs; R3's daemon is killed (kill -9: no
# Delete), and the captured datagram is re-sent to R2 every second, from R3's address
# (a replay) and from another one (2001:db8::66). R2 drops each (logged: replayed /
# another peer address) and DPD declares R3 dead on time (10 s idle + 5 R-U-THEREs 2 s
# apart, from R3's last message). Namespaces $IKT_NS-rp-r2/-r3.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin dpd-replay
R2=$IKT_NS-rp-r2 R3=$IKT_NS-rp-r3
routers $R2 2001:db8::2 $R3 2001:db8::3 64
variant examples/r2.conf "$IKT_RUN/r2.conf" "$(dpd_line 10 2)"
variant examples/r3.conf "$IKT_RUN/r3.conf" "$(dpd_line 10 2)"
chmod 600 "$IKT_RUN"/*.conf
pcap=$IKT_RUN/r2.pcap
ip netns exec $R2 tcpdump -i eth0 -U -s 0 -w "$pcap" 'udp port 500 and src 2001:db8::3' \
    >"$IKT_RUN/tcpdump.out" 2>&1 &
TCPDUMP=$!
IKT_PIDS+=("$TCPDUMP")
start_ikev1d $R2 "$IKT_RUN/r2.conf" "$IKT_RUN/r2.log"
start_ikev1d $R3 "$IKT_RUN/r3.conf" "$IKT_RUN/r3.log"
check "Tunnel23 up" wait_sa $R2 20

# sent_rut: R3 has sent an R-U-THERE and R2 answered it (R2 logged its receipt)
sent_rut() {
    grep -q 'sending R-U-THERE, sequence' "$IKT_RUN/r3.log" &&
        grep -q 'received R-U-THERE, sent R-U-THERE-ACK' "$IKT_RUN/r2.log"
}
check "R3 sends an R-U-THERE after 10 s of quiet, R2 answers" until_true 30 sent_rut
sleep 1
kill -INT "$TCPDUMP" 2>/dev/null || true
wait "$TCPDUMP" 2>/dev/null || true
sent_at=$(grep -m1 'sending R-U-THERE, sequence' "$IKT_RUN/r3.log" | cut -d' ' -f1)

# The captured R-U-THERE: the Informational (exchange 5) R3 sent when it logged it
# (its ISAKMP message, after the Ethernet, IPv6 and UDP headers).
python3 - "$pcap" "$sent_at" "$IKT_RUN/rut.bin" <<'EOF'
import struct, sys
from datetime import datetime
data = open(sys.argv[1], "rb").read()
at = datetime.fromisoformat(sys.argv[2].replace("Z", "+00:00")).timestamp()
off, best = 24, None
while off + 16 <= len(data):
    sec, usec, incl = struct.unpack_from("<III", data, off)
    frame = data[off + 16:off + 16 + incl]
    off += 16 + incl
    isakmp = frame[14 + 40 + 8:]
    gap = abs(sec + usec / 1e6 - at)
    if len(isakmp) >= 28 and isakmp[18] == 5 and gap < 0.5 and (best is None or gap < best[0]):
        best = (gap, isakmp)
if best:
    open(sys.argv[3], "wb").write(best[1])
EOF
check "the R-U-THERE captured on R2 (sent at $sent_at)" test -s "$IKT_RUN/rut.bin"

# R3 dies without a word; its R-U-THERE comes back every second, from its own address
# and from another.
r3=$(cat "$IKT_RUN/$R3.pid")
kill -KILL "$r3"
wait "$r3" 2>/dev/null || true
killed=$SECONDS
ip -n $R3 addr add 2001:db8::66/64 dev eth0 nodad
ip netns exec $R3 python3 - "$IKT_RUN/rut.bin" <<'EOF' &
import socket, sys, time
rut = open(sys.argv[1], "rb").read()
socks = []
for src in ("2001:db8::3", "2001:db8::66"):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, 500))
    socks.append(s)
for _ in range(60):
    for s in socks:
        s.sendto(rut, ("2001:db8::2", 500))
    time.sleep(1)
EOF
IKT_PIDS+=($!)
dead() { grep -q 'DPD timeout: peer 2001:db8::3' "$IKT_RUN/r2.log"; }
# Declared dead within 10 s of quiet plus 5 R-U-THEREs 2 s apart (the last answer
# came before the kill), with 5 s to spare on a loaded machine.
check "R2 declares R3 dead on time despite the replays" until_true 25 dead
echo "    declared dead $((SECONDS - killed)) s after the kill"
check "... the replay from R3's address dropped as replayed" \
    grep -q 'dropped packet from \[2001:db8::3\]:500: replayed' "$IKT_RUN/r2.log"
check "... the replay from another address dropped" \
    grep -q 'dropped packet from \[2001:db8::66\]:500: its cookies belong to an SA with another peer address' "$IKT_RUN/r2.log"
check "... Tunnel23's SAs gone on R2" until_true 5 pairs_are $R2 0
suite_end
