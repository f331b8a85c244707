#!/bin/bash
# vm-daemon.sh - the daemon on the kernel data path, inside a QEMU VM that boots a stock
# Debian kernel (full XFRM): runs tests/vm/daemon.sh there (scripts/run-in-vm.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin vm-daemon
VM_TIMEOUT=${VM_TIMEOUT:-600} in_vm tests/vm/daemon.sh
suite_end
