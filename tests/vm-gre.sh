#!/bin/bash
# vm-gre.sh - GRE over IPsec on the kernel data path (gre/ip6gre interfaces, XFRM for
# protocol 47 only), inside a QEMU VM that boots a stock Debian kernel: two ikev1d over
# IPv4 and IPv6, with and without a key, in transport and tunnel mode; the kernel path
# against the userspace path; against strongSwan in transport mode with a Linux GRE
# interface, each side initiating (tests/vm/gre.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin vm-gre
for tool in /usr/lib/ipsec/charon swanctl jq tcpdump; do
    command -v $tool >/dev/null || check "$tool installed (scripts/test.sh installs it)" false
done
IKT_DATAPLANE=kernel VM_TIMEOUT=${VM_TIMEOUT:-900} in_vm tests/vm/gre.sh "$@"
suite_end
