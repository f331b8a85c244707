#!/bin/bash
# vm-strongswan.sh - ikev1d on the kernel data path against strongSwan on kernel ESP
# (kernel-netlink), each side initiating once, inside a QEMU VM that boots a stock
# Debian kernel (full XFRM): runs tests/vm/strongswan.sh there (scripts/run-in-vm.sh),
# with the seed's R2, then with R2's key in a keyring (examples/r2-keyring.conf), then
# with strongSwan on kernel-libipsec (NAT-T, UDP 4500) and R2 over 16 local addresses
# (its IKE sockets the [::] wildcard pair).
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin vm-strongswan
for tool in /usr/lib/ipsec/charon swanctl jq; do
    command -v $tool >/dev/null || check "$tool installed (scripts/test.sh installs it)" false
done
KERNEL_ESP=1 IKT_DATAPLANE=kernel VM_TIMEOUT=${VM_TIMEOUT:-600} in_vm tests/vm/strongswan.sh
# ikev1d with a keyring, an ISAKMP profile and Tunnel0 (if_id 2^31), as on the host
# (tests/strongswan-keyring.sh)
SSW_SUITE=strongswan-keyring R2_CONF=examples/r2-keyring.conf R2_TUNNEL=Tunnel0 R2_PROFILE=R3 \
    KERNEL_ESP=1 IKT_DATAPLANE=kernel VM_TIMEOUT=${VM_TIMEOUT:-600} in_vm tests/vm/strongswan.sh
# NAT-T on the kernel data path through a wildcard IKE socket: strongSwan on
# kernel-libipsec floats to UDP 4500, and R2, with 17 more local addresses, holds only
# [::]:500 and [::]:4500 (UDP_ENCAP_ESPINUDP and the bypass policy on the wildcard one)
SSW_SUITE=strongswan-nat-t-wildcard R2_ADDRESSES=17 \
    IKT_DATAPLANE=kernel VM_TIMEOUT=${VM_TIMEOUT:-600} in_vm tests/vm/strongswan.sh
suite_end
