#!/bin/bash
# vm-daemon.sh - the daemon on the kernel data path, inside a QEMU VM that boots a stock
# Debian kernel (full XFRM): runs tests/vm/daemon.sh there (scripts/run-in-vm.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/release/ikev1d ] || cargo build --release -q
if ! command -v qemu-system-x86_64 >/dev/null; then
    echo "FAIL qemu-system-x86_64 missing (scripts/test.sh installs qemu-system-x86)"; exit 1
fi
VM_MEM=${VM_MEM:-1G} VM_TIMEOUT=${VM_TIMEOUT:-900} scripts/run-in-vm.sh /bin/bash tests/vm/daemon.sh
