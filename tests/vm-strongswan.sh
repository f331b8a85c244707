#!/bin/bash
# vm-strongswan.sh - ikev1d on the kernel data path against strongSwan on kernel ESP
# (kernel-netlink), each side initiating once, inside a QEMU VM that boots a stock
# Debian kernel (full XFRM): runs tests/vm/strongswan.sh there (scripts/run-in-vm.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin vm-strongswan
for tool in /usr/lib/ipsec/charon swanctl jq; do
    command -v $tool >/dev/null || check "$tool installed (scripts/test.sh installs it)" false
done
KERNEL_ESP=1 IKT_DATAPLANE=kernel VM_TIMEOUT=${VM_TIMEOUT:-600} in_vm tests/vm/strongswan.sh
suite_end
