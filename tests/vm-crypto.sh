#!/bin/bash
# vm-crypto.sh - groups 19/20/21/24 and ESP AES-GCM, AES-GMAC, HMAC-SHA-384/512 and NULL
# on the kernel data path, inside a QEMU VM that boots a stock Debian kernel (full XFRM):
# runs tests/vm/crypto.sh there (kernel <-> userspace ESP with the same keys, then four
# strongSwan interop cases at once).
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin vm-crypto
for tool in /usr/lib/ipsec/charon swanctl jq; do
    command -v $tool >/dev/null || check "$tool installed (scripts/test.sh installs it)" false
done
# Loaded up front: under TCG the first ESP SA otherwise waits on ~20 modprobes.
KERNEL_ESP=1 IKT_DATAPLANE=kernel VM_MEM=${VM_MEM:-2G} VM_TIMEOUT=${VM_TIMEOUT:-900} \
    VM_MODULES="esp6 xfrm_interface tun gcm ghash-generic seqiv authenc sha512_generic" \
    in_vm tests/vm/crypto.sh
suite_end
