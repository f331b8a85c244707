#!/bin/bash
# multi-tunnel.sh - runs INSIDE the VM (see tests/vm-multi-tunnel.sh): lib.sh's `fan` on
# the kernel data path (xfrm interfaces, if_id = N): 2 and 20 tunnels between one
# address and as many addresses, the many side starting second (in) and first (out);
# after the kill -9 and restart the kernel holds exactly the pairs `show ipsec` lists,
# the crashed daemon's leftovers removed. One scenario at a time: under the emulated
# CPU, 20 tunnels' handshakes (DH group 14, debug build) take the VM's whole CPU.
# Arguments: the scenarios (in2 out2 in20 out20; default all). Namespaces
# $IKT_NS-<scenario>-one/-many.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
suite_begin vm-multi-tunnel
echo "kernel $(uname -r)"
export FAN_KERNEL=1 FAN_S_PER_TUNNEL=${FAN_S_PER_TUNNEL:-6}

for s in ${@:-in2 out2 in20 out20}; do
    n=${s#in} n=${n#out}
    first=$([[ $s == in* ]] && echo one || echo many)
    scenario "$s" fan "$s" "$n" "$first" --dataplane kernel
    wait_scenarios 600
done
suite_end
