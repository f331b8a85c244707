#!/bin/bash
# vm-kernel-dataplane.sh - the kernel data path without IKE (examples/dp_driver.rs):
# on this machine, `--dataplane kernel` must be refused naming what the kernel lacks;
# inside a QEMU VM with a stock Debian kernel (scripts/run-in-vm.sh, booted once),
# tests/vm/kernel-dataplane.sh drives xfrm interfaces, vti6, IPv4 outer, two tunnels
# and the cleanup. SKIPs (exit 0) only when qemu is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$EPOCHREALTIME
cargo build --release --examples -q
# the kernel path's #[ignore]d unit tests, run in the VM (dataplane::kernel::vm_tests)
IKT_KTEST=$(cargo test --lib --no-run --message-format=json -q |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("profile", {}).get("test") and m.get("executable"): print(m["executable"])')
export IKT_KTEST
DP=target/release/examples/dp_driver
failed=0
check() {
    local name=$1; shift
    if "$@"; then echo "PASS $name"; else echo "FAIL $name"; failed=1; fi
}

# --- this machine: refused with the reason, in a scratch namespace ------------------
ns=ikt-kh
out=$(mktemp)
cleanup() { ip netns del $ns 2>/dev/null || true; rm -f "$out"; }
trap cleanup EXIT
ip netns add $ns
ip -n $ns link set lo up
rc=0
ip netns exec $ns timeout 20 $DP --dataplane kernel --name Tunnel23 --if-id 23 \
    --local 2001:db8::2 --peer 2001:db8::3 --spi-in 4098 --spi-out 4099 </dev/null >"$out" 2>&1 || rc=$?
cat "$out"
if grep -q READY "$out"; then
    echo "SKIP host refusal: this kernel offers the kernel data path"
else
    check "host: dp_driver --dataplane kernel exits 1" [ $rc = 1 ]
    check "host: the message names what is missing" grep -qE \
        'kernel data path unavailable: the kernel rejects ESP states \(esp6: [A-Z]+, esp4: [A-Z]+\); no xfrm interfaces \(xfrm_interface: [A-Z]+\); no vti6 \(ip6_vti: [A-Z]+\)' "$out"
fi
check "host: nothing left behind by the probe" bash -c "! ip -n $ns link show | grep -q ikprobe && [ -z \"\$(ip -n $ns xfrm state)\" ]"

# --- the VM ------------------------------------------------------------------------
if ! command -v qemu-system-x86_64 >/dev/null; then
    echo "SKIP VM checks: qemu-system-x86_64 not installed (scripts/test.sh installs qemu-system-x86)"
    exit $failed
fi
t1=$EPOCHREALTIME
rc=0
VM_TIMEOUT=${VM_TIMEOUT:-600} scripts/run-in-vm.sh /bin/bash tests/vm/kernel-dataplane.sh || rc=$?
check "VM scenario script passed (exit $rc)" [ $rc = 0 ]
ms() { echo $(( (${EPOCHREALTIME/./} - ${1/./}) / 1000 )); }
echo "timing: VM run $(ms $t1) ms, whole script $(ms $t0) ms"
exit $failed
