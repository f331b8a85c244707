#!/bin/bash
# vm-kernel-dataplane.sh - the kernel data path without IKE (examples/dp_driver.rs): on
# this machine, `--dataplane kernel` must be refused naming what the kernel lacks; inside
# a QEMU VM with a stock Debian kernel (scripts/run-in-vm.sh), tests/vm/kernel-dataplane.sh
# drives xfrm interfaces, vti6, IPv4 outer, two tunnels and the cleanup, and runs the
# kernel path's #[ignore]d unit tests (dataplane::kernel::vm_tests). Namespace $IKT_NS-kh.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin vm-kernel-dataplane
# the test executable `cargo test` built (cargo prints where)
IKT_KTEST=$(cargo test --lib --no-run --message-format=json -q |
    jq -r 'select(.profile.test == true and .executable != null) | .executable')
export IKT_KTEST

# --- this machine: refused with the reason, in a scratch namespace
ns=$IKT_NS-kh
add_netns $ns
rc=0
ip netns exec $ns timeout 20 "$IKT_DRIVER" --dataplane kernel --name Tunnel23 --if-id 23 \
    --local 2001:db8::2 --peer 2001:db8::3 --spi-in 4098 --spi-out 4099 </dev/null >"$IKT_RUN/host.out" 2>&1 || rc=$?
sed 's/^/    /' "$IKT_RUN/host.out"
if grep -q READY "$IKT_RUN/host.out"; then
    echo "SKIP host refusal: this kernel offers the kernel data path"
else
    check "host: dp_driver --dataplane kernel exits 1" [ $rc = 1 ]
    check "host: the message names what is missing" grep -qE \
        'kernel data path unavailable: the kernel rejects ESP states \(esp6: [A-Z]+, esp4: [A-Z]+\); no xfrm interfaces \(xfrm_interface: [A-Z]+\); no vti6 \(ip6_vti: [A-Z]+\)' "$IKT_RUN/host.out"
fi
check "host: nothing left behind by the probe" bash -c "! ip -n $ns link show | grep -q ikprobe && [ -z \"\$(ip -n $ns xfrm state)\" ]"

# --- the VM
VM_TIMEOUT=${VM_TIMEOUT:-600} in_vm tests/vm/kernel-dataplane.sh "$@"
suite_end
