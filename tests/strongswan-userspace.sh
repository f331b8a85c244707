#!/bin/bash
# strongswan-userspace.sh - ikev1d against a real strongSwan 5.9.8 IKEv1 peer on this
# machine's kernel (no XFRM ESP): ikev1d on its userspace data path, strongSwan with
# kernel-libipsec, which floats to UDP 4500 (NAT-T). Each side initiates once; pings
# cross the inner addresses both ways. The scenario is tests/vm/strongswan.sh, which
# tests/vm-strongswan.sh runs in the VM on both sides' kernel ESP.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in /usr/lib/ipsec/charon swanctl jq; do
    command -v $tool >/dev/null || { echo "FAIL $tool missing (scripts/test.sh installs it)"; exit 1; }
done
unset KERNEL_ESP
IKT_DATAPLANE=userspace exec bash tests/vm/strongswan.sh
