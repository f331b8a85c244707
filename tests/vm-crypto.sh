#!/bin/bash
# vm-crypto.sh - groups 19/20/21/24 and ESP AES-GCM, AES-GMAC, HMAC-SHA-384/512 and NULL
# on the kernel data path, inside a QEMU VM that boots a stock Debian kernel (full XFRM):
# runs tests/vm/crypto.sh there (kernel <-> userspace ESP with the same keys, then four
# strongSwan interop cases at once).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
cargo build --release --example dp_driver -q
for tool in qemu-system-x86_64 /usr/lib/ipsec/charon swanctl jq; do
    command -v $tool >/dev/null || { echo "FAIL $tool missing (scripts/test.sh installs it)"; exit 1; }
done
t0=$EPOCHREALTIME
# Loaded up front: under TCG the first ESP SA otherwise waits on ~20 modprobes.
KERNEL_ESP=1 IKT_DATAPLANE=kernel VM_MODULES="esp6 xfrm_interface tun gcm ghash-generic seqiv authenc sha512_generic" \
    VM_MEM=${VM_MEM:-2G} VM_TIMEOUT=${VM_TIMEOUT:-900} scripts/run-in-vm.sh /bin/bash tests/vm/crypto.sh
echo "timing: vm-crypto.sh $(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 )) ms"
