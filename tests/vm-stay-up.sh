#!/bin/bash
# vm-stay-up.sh - tunnels stay up on the kernel data path: tests/vm/stay-up.sh inside a
# QEMU VM that boots a stock Debian kernel (scripts/run-in-vm.sh). A suite of its own,
# run after tests/stay-up.sh rather than beside it: the emulated CPU takes both cores,
# and the host's pings would be paced by the scheduler instead of the tunnel.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin vm-stay-up
VM_TIMEOUT=${VM_TIMEOUT:-600} in_vm tests/vm/stay-up.sh "$@"
suite_end
