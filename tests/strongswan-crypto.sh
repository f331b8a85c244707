#!/bin/bash
# strongswan-crypto.sh - groups 19/20/21/24 with ESP AES-GCM and HMAC-SHA-384/512 against
# a real strongSwan on this machine's kernel (no XFRM ESP): ikev1d on its userspace data
# path, strongSwan with kernel-libipsec (which has GCM but no GMAC), each side initiating
# once per case. The scenarios are tests/vm/crypto.sh's part 2 (tests/vm-crypto.sh runs
# them in the VM on both sides' kernel ESP, GMAC included).
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in /usr/lib/ipsec/charon swanctl jq; do
    command -v $tool >/dev/null || { echo "FAIL $tool missing (scripts/test.sh installs it)"; exit 1; }
done
unset KERNEL_ESP
IKT_DATAPLANE=userspace exec bash tests/vm/crypto.sh
