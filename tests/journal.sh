#!/bin/bash
# journal.sh - structured logs. Under systemd stderr is the journal (JOURNAL_STREAM
# names it): R2 then logs to journald natively, every line of an ISAKMP SA carrying
# PEER and CONN_ID, IPsec SA lines TUNNEL, SPI_IN and SPI_OUT, Quick Mode lines MSG_ID,
# so that `journalctl PEER=2001:db8::3` or `CONN_ID=N` shows one peer, one SA. R3's
# stderr is a plain file: one line per event, the IOS words first, the fields after.
# A real systemd-journald runs in a private mount namespace (tmpfs over its sockets
# and its storage), so the host's journal is never touched. Namespaces
# $IKT_NS-jr-r2/-r3.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin journal
JOURNALD=/lib/systemd/systemd-journald
if [ ! -x "$JOURNALD" ] || ! command -v journalctl >/dev/null; then
    echo "SKIP: systemd-journald / journalctl missing (scripts/test.sh installs systemd)"
    suite_end
fi
R2=$IKT_NS-jr-r2 R3=$IKT_NS-jr-r3
# The network namespaces first: the mount namespace below gets a copy of their
# /run/netns mounts only if they exist when it is made.
routers $R2 2001:db8::2 $R3 2001:db8::3 64

# The private mount namespace, held by a sleeping process; in_jns runs a command in it.
unshare --mount --propagation private sleep 600 &
holder=$!
IKT_PIDS+=($holder)
# (nsenter execs CMD: a background `nsenter ... &` is CMD's pid, for the cleanup to stop)
jns=(nsenter --mount --target "$holder" --wd="$PWD")
in_jns() { "${jns[@]}" "$@"; }
# Nothing is mounted before the holder is in a namespace of its own.
private() { [ "$(readlink /proc/$holder/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ]; }
if ! until_true 5 private; then
    check "a private mount namespace for journald" false
    suite_end
fi
for dir in /run/systemd /run/log /var/log/journal; do
    [ ! -d "$dir" ] || in_jns mount -t tmpfs tmpfs "$dir"
done
in_jns mkdir -p /run/systemd/journal /run/log/journal
"${jns[@]}" "$JOURNALD" >"$IKT_RUN/journald.log" 2>&1 &
IKT_PIDS+=($!)
check "journald listens in the private namespace" until_true 10 in_jns test -S /run/systemd/journal/socket
j() { in_jns journalctl -D /run/log/journal --no-pager "$@"; }

start_ikev1d $R3 examples/r3.conf "$IKT_RUN/r3.err" --passive
# R2 as systemd starts it: JOURNAL_STREAM is the device:inode of its stderr.
: >"$IKT_RUN/r2.err"
"${jns[@]}" ip netns exec $R2 env RUST_LOG=ikev1d=debug \
    JOURNAL_STREAM="$(stat -c %d:%i "$IKT_RUN/r2.err")" "$IKT_BIN" run \
    --config examples/r2.conf --socket "$IKT_RUN/$R2.sock" 2>>"$IKT_RUN/r2.err" &
IKT_PIDS+=($!)
watch_log "$IKT_RUN/r2.err"
check "Tunnel23 up" wait_sa $R2 20
sleep 1
conn_id=$(json_field $R2 isakmp '.[0].conn_id')
spi_in=$(json_field $R2 ipsec '.[0].inbound.spi')
spi_out=$(json_field $R2 ipsec '.[0].outbound.spi')
echo "    R2: conn-id $conn_id, SPIs in $spi_in out $spi_out; $(j SYSLOG_IDENTIFIER=ikev1d | wc -l) journal lines"

peer_lines() { j -o cat PEER=2001:db8::3 | grep -qx 'Old State = IKE_I_MM1 New State = IKE_I_MM2'; }
check "PEER=2001:db8::3: R2's Main Mode, in IOS words" peer_lines
sa_lines() {
    j -o cat PEER=2001:db8::3 CONN_ID="$conn_id" >"$IKT_RUN/sa.txt"
    grep -q "^ISAKMP SA $conn_id with 2001:db8::3 is up" "$IKT_RUN/sa.txt" &&
        grep -q '^IPsec SA up on Tunnel23' "$IKT_RUN/sa.txt"
}
check "PEER=2001:db8::3 CONN_ID=$conn_id: the SA's lines, it and its IPsec SA up" sa_lines
daemon_wide() {
    j -o cat SYSLOG_IDENTIFIER=ikev1d | grep -q '^ikev1d ready' && ! grep -q '^ikev1d ready' "$IKT_RUN/sa.txt"
}
check "daemon-wide lines are in the journal, without the SA's fields" daemon_wide
pair_line() {
    j -o cat TUNNEL=Tunnel23 SPI_IN="$spi_in" SPI_OUT="$spi_out" | grep -q '^IPsec SA up on Tunnel23 with 2001:db8::3'
}
check "TUNNEL=Tunnel23 SPI_IN=$spi_in SPI_OUT=$spi_out: the IPsec SA's line" pair_line
# Every line with MSG_ID names that M-ID in its text ("Node N, ...", "M-ID of N",
# "deleting node N ...").
msg_ids() {
    j -o json PEER=2001:db8::3 | jq -se '
        map(select(.MSG_ID)) | length > 0 and all(.MESSAGE as $m | .MSG_ID as $id |
            ($m | startswith("Node \($id), ")) or ($m | contains("M-ID of \($id)"))
            or ($m | contains("node \($id) ")))'
}
check "MSG_ID on Quick Mode lines, the M-ID their text names" msg_ids
check "R2 (stderr is the journal) writes none of it to stderr" \
    bash -c "! grep -q 'Old State' '$IKT_RUN/r2.err'"
check "R3 (stderr a file): IOS words first, the SA's fields after" grep -qE \
    '^[^ ]+ +DEBUG Old State = IKE_R_MM1 New State = IKE_R_MM2 peer=2001:db8::2 conn_id=[0-9]+$' "$IKT_RUN/r3.err"
check "R3: an IPsec SA line has the tunnel and SPIs" grep -qE \
    '^[^ ]+ +INFO IPsec SA up on Tunnel23 .* tunnel="?Tunnel23"? spi_in=[0-9]+ spi_out=[0-9]+ peer=2001:db8::2 conn_id=[0-9]+$' "$IKT_RUN/r3.err"
suite_end
