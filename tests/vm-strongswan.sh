#!/bin/bash
# vm-strongswan.sh - ikev1d on the kernel data path against strongSwan on kernel ESP
# (kernel-netlink), each side initiating once, inside a QEMU VM that boots a stock
# Debian kernel (full XFRM): runs tests/vm/strongswan.sh there (scripts/run-in-vm.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/release/ikev1d ] || cargo build --release -q
for tool in qemu-system-x86_64 /usr/lib/ipsec/charon swanctl jq; do
    command -v $tool >/dev/null || { echo "FAIL $tool missing (scripts/test.sh installs it)"; exit 1; }
done
KERNEL_ESP=1 IKT_DATAPLANE=${IKT_DATAPLANE:-kernel} VM_MEM=${VM_MEM:-1G} \
    VM_TIMEOUT=${VM_TIMEOUT:-600} scripts/run-in-vm.sh /bin/bash tests/vm/strongswan.sh
