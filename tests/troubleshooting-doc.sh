#!/bin/bash
# troubleshooting-doc.sh - docs/troubleshooting.md stays true: every ikev1d log line
# quoted in its "Responder" and "Initiator" tables appears in the debug log of a fresh
# run of the seed (R3 --passive responds, R2 initiates; userspace data path on this
# machine), message IDs, SPIs and conn-ids aside. Namespaces ikt-t-doc-r2/-r3.
set -euo pipefail
cd "$(dirname "$0")/.."
IKT_RUN=$(mktemp -d /tmp/ikt-t.XXXXXX)
. scripts/lib.sh
trap lib_cleanup EXIT
[ -x "$IKT_BIN" ] || cargo build --release -q

routers ikt-t-doc-r2 2001:db8::2 ikt-t-doc-r3 2001:db8::3 64
start_ikev1d ikt-t-doc-r3 examples/r3.conf "$IKT_RUN/r3.log" --passive
check "R3 (--passive) listening" bash -c \
    "for i in \$(seq 40); do ip netns exec ikt-t-doc-r3 $IKT_BIN show isakmp --socket $IKT_RUN/ikt-t-doc-r3.sock >/dev/null 2>&1 && exit 0; sleep 0.25; done; exit 1"
start_ikev1d ikt-t-doc-r2 examples/r2.conf "$IKT_RUN/r2.log"
check "Tunnel23 up" wait_sa ikt-t-doc-r2 20
check "R3 has the pair too" wait_sa ikt-t-doc-r3 5

# quoted SECTION LOG: each `DEBUG ...` / `INFO ...` of the doc's SECTION table is a line
# of LOG (numbers of 4+ digits and SPIs vary)
quoted() {
    python3 - "$1" "$2" <<'EOF'
import re, sys
section, log = sys.argv[1], sys.argv[2]
doc = open("docs/troubleshooting.md").read()
body = doc.split("### " + section + " ", 1)[1].split("\n### ", 1)[0]
# without the timestamp, and without the fields that follow the words
fields = re.compile(r"( (peer|conn_id|msg_id|tunnel|spi_in|spi_out)=\S+)+$")
lines = [fields.sub("", " ".join(l.split()[1:])) for l in open(log)]
missing = 0
quotes = [q for row in body.splitlines() if row.startswith("|")
          for q in re.findall(r"`((?:DEBUG|INFO|WARN|ERROR) [^`]+)`", row.split("|")[3])]
for q in quotes:
    pat = re.escape(" ".join(q.split()))
    pat = re.sub(r"0x[0-9A-F]+\\\(\d+\\\)", r"0x[0-9A-F]+\\(\\d+\\)", pat)
    pat = re.sub(r"\d{4,}", r"\\d+", pat)
    if not any(re.fullmatch(pat, l) for l in lines):
        print(f"    not in the {section.lower()}'s log: {q}")
        missing += 1
print(f"    {len(quotes) - missing} of {len(quotes)} quoted lines found")
sys.exit(1 if missing or not quotes else 0)
EOF
}
check "doc: every ikev1d line of the Responder table is in R3's log" quoted Responder "$IKT_RUN/r3.log"
check "doc: every ikev1d line of the Initiator table is in R2's log" quoted Initiator "$IKT_RUN/r2.log"
exit $IKT_FAILED
