#!/bin/bash
# journal.sh - structured logs. Under systemd stderr is the journal (JOURNAL_STREAM
# names it): R2 then logs to journald natively, every line of an ISAKMP SA carrying
# PEER and CONN_ID, IPsec SA lines TUNNEL, SPI_IN and SPI_OUT, Quick Mode lines MSG_ID,
# so that `journalctl PEER=2001:db8::3` or `CONN_ID=N` shows one peer, one SA. R3's
# stderr is a plain file: one line per event, the IOS words first, the fields after.
# A real systemd-journald runs in a private mount namespace (tmpfs over its sockets
# and storage), so the host's journal is never touched. Namespaces ikt-c-jr2/-jr3.
set -euo pipefail
cd "$(dirname "$0")/.."
IKT_RUN=$(mktemp -d /tmp/ikt-c-jr.XXXXXX)
. scripts/lib.sh
trap lib_cleanup EXIT
[ -x "$IKT_BIN" ] || cargo build --release -q
JOURNALD=/lib/systemd/systemd-journald
if [ ! -x "$JOURNALD" ] || ! command -v journalctl >/dev/null; then
    echo "SKIP: systemd-journald / journalctl missing (scripts/test.sh installs systemd)"
    exit 0
fi

routers ikt-c-jr2 2001:db8::2 ikt-c-jr3 2001:db8::3 64
export IKT_RUN IKT_BIN JOURNALD
unshare --mount --propagation private bash -s <<'INNER'
set -euo pipefail
. scripts/lib.sh
pids=()
finish() {
    set +e
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
}
trap finish EXIT
mount -t tmpfs tmpfs /run/systemd
mount -t tmpfs tmpfs /run/log
if [ -d /var/log/journal ]; then mount -t tmpfs tmpfs /var/log/journal; fi
mkdir -p /run/systemd/journal /run/log/journal
"$JOURNALD" >"$IKT_RUN/journald.log" 2>&1 &
journald=$!
for _ in $(seq 1 50); do [ -S /run/systemd/journal/socket ] && break; sleep 0.1; done

ip netns exec ikt-c-jr3 env RUST_LOG=ikev1d=debug "$IKT_BIN" run --passive \
    --config examples/r3.conf --socket "$IKT_RUN/ikt-c-jr3.sock" 2>"$IKT_RUN/r3.err" &
pids+=($!)
# As systemd hands it a stream: JOURNAL_STREAM is its device:inode.
: >"$IKT_RUN/r2.err"
ip netns exec ikt-c-jr2 env RUST_LOG=ikev1d=debug \
    JOURNAL_STREAM="$(stat -c %d:%i "$IKT_RUN/r2.err")" "$IKT_BIN" run \
    --config examples/r2.conf --socket "$IKT_RUN/ikt-c-jr2.sock" 2>>"$IKT_RUN/r2.err" &
pids+=($!)
check "Tunnel23 up" wait_sa ikt-c-jr2 20
sleep 1
j() { journalctl -D /run/log/journal --no-pager SYSLOG_IDENTIFIER=ikev1d "$@"; }
conn_id=$(json_field ikt-c-jr2 isakmp 'a[0]["conn_id"]')
spi_in=$(json_field ikt-c-jr2 ipsec 'a[0]["inbound"]["spi"]')
spi_out=$(json_field ikt-c-jr2 ipsec 'a[0]["outbound"]["spi"]')
echo "R2: conn-id $conn_id, SPIs in $spi_in out $spi_out; $(j | wc -l) journal lines"
check "PEER=2001:db8::3: R2's Main Mode, in IOS words" \
    bash -c "journalctl -D /run/log/journal --no-pager -o cat PEER=2001:db8::3 | grep -q '^Old State = IKE_I_MM1 New State = IKE_I_MM2$'"
check "PEER=2001:db8::3 CONN_ID=$conn_id: the SA's lines, up and its IPsec SA" bash -c \
    "journalctl -D /run/log/journal --no-pager -o cat PEER=2001:db8::3 CONN_ID=$conn_id > $IKT_RUN/sa.txt
     grep -q '^ISAKMP SA $conn_id with 2001:db8::3 is up' $IKT_RUN/sa.txt && grep -q '^IPsec SA up on Tunnel23' $IKT_RUN/sa.txt"
check "daemon-wide lines are in the journal, without the SA's fields" bash -c \
    "journalctl -D /run/log/journal --no-pager -o cat SYSLOG_IDENTIFIER=ikev1d | grep -q '^ikev1d ready' && ! grep -q '^ikev1d ready' $IKT_RUN/sa.txt"
check "TUNNEL=Tunnel23 SPI_IN=$spi_in SPI_OUT=$spi_out: the IPsec SA's line" bash -c \
    "journalctl -D /run/log/journal --no-pager -o cat TUNNEL=Tunnel23 SPI_IN=$spi_in SPI_OUT=$spi_out | grep -q '^IPsec SA up on Tunnel23 with 2001:db8::3'"
msg_ids() {
    journalctl -D /run/log/journal --no-pager -o json PEER=2001:db8::3 | python3 -c '
import json, sys
entries = [json.loads(l) for l in sys.stdin]
qm = [e for e in entries if "MSG_ID" in e]
ok = qm and all(e["MESSAGE"].startswith("Node %s, " % e["MSG_ID"]) or "M-ID of %s" % e["MSG_ID"] in e["MESSAGE"] or "node %s " % e["MSG_ID"] in e["MESSAGE"] for e in qm)
print(len(qm), "lines with MSG_ID"); sys.exit(0 if ok else 1)'
}
check "MSG_ID on Quick Mode lines, the M-ID their text names" msg_ids
check "R2 (stderr is the journal) writes nothing of it to stderr" bash -c "! grep -q 'Old State' $IKT_RUN/r2.err"
check "R3 (stderr a file): IOS words first, the SA's fields after" grep -qE \
    '^[^ ]+ +DEBUG Old State = IKE_R_MM1 New State = IKE_R_MM2 peer=2001:db8::2 conn_id=[0-9]+$' "$IKT_RUN/r3.err"
check "R3: an IPsec SA line has tunnel and SPIs" grep -qE \
    '^[^ ]+ +INFO IPsec SA up on Tunnel23 .* tunnel="?Tunnel23"? spi_in=[0-9]+ spi_out=[0-9]+ peer=2001:db8::2 conn_id=[0-9]+$' "$IKT_RUN/r3.err"
if [ "$IKT_FAILED" != 0 ]; then
    echo "--- journal (R2)"; j -o short | tail -20
    echo "--- R3 stderr"; tail -20 "$IKT_RUN/r3.err"
fi
finish
kill "$journald"; wait "$journald" 2>/dev/null || true
exit "$IKT_FAILED"
INNER
