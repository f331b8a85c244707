#!/bin/bash
# gre-userspace.sh - GRE over IPsec between two ikev1d on this machine's kernel, which has
# neither ESP nor GRE: the userspace data path does both (tests/vm/gre.sh, which
# tests/vm-gre.sh runs in the VM on the kernel path). Then: a VRF line on this kernel,
# which has no VRF devices, stops the daemon with FILE:LINE naming the kernel feature.
# Namespaces $IKT_NS-g*.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin gre-userspace
# its checks count as this suite's (its summary line says how many)
IKT_DATAPLANE=userspace bash tests/vm/gre.sh | tee "$IKT_RUN/gre.out" || true
read -r p f < <(sed -nE 's/^gre: ([0-9]+) passed, ([0-9]+) failed in .*/\1 \2/p' "$IKT_RUN/gre.out")
IKT_PASSED=$((IKT_PASSED + ${p:-0})) IKT_FAILED=$((IKT_FAILED + ${f:-1}))

# a VRF on a kernel without VRF devices
ns=$IKT_NS-gv
add_netns $ns
sed -e 's/^interface Tunnel23$/vrf definition BLUE\n address-family ipv4\n&\n vrf forwarding BLUE/' \
    examples/r2.conf >"$IKT_RUN/vrf.conf"
chmod 600 "$IKT_RUN/vrf.conf"
line=$(grep -n '^ vrf forwarding BLUE' "$IKT_RUN/vrf.conf" | cut -d: -f1)
refused() {
    local rc=0
    ip netns exec $ns timeout 20 "$IKT_BIN" run --config "$IKT_RUN/vrf.conf" \
        --socket "$IKT_RUN/vrf.sock" >"$IKT_RUN/vrf.log" 2>&1 || rc=$?
    tail -n 1 "$IKT_RUN/vrf.log" | sed 's/^/    /'
    [ $rc = 1 ] && grep -q "vrf.conf:$line: vrf forwarding BLUE: this kernel has no VRF devices (CONFIG_NET_VRF, module vrf)" "$IKT_RUN/vrf.log"
}
if ip -n $ns link add ikvrf-probe type vrf table 4242 2>/dev/null; then
    echo "SKIP no VRF devices: this kernel has them"
else
    check "vrf forwarding without kernel VRFs: exit 1, FILE:LINE names CONFIG_NET_VRF" refused
    check "nothing left behind (no Tunnel23)" bash -c "! ip -n $ns link show Tunnel23 2>/dev/null"
fi
suite_end
