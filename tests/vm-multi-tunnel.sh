#!/bin/bash
# vm-multi-tunnel.sh - several tunnels between one address and several on the kernel
# data path: tests/vm/multi-tunnel.sh inside a QEMU VM that boots a stock Debian kernel
# (scripts/run-in-vm.sh). Arguments: its scenarios.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin vm-multi-tunnel
VM_TIMEOUT=${VM_TIMEOUT:-900} in_vm tests/vm/multi-tunnel.sh "$@"
suite_end
