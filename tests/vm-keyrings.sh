#!/bin/bash
# vm-keyrings.sh - keyrings, ISAKMP profiles and identities on the kernel data path
# (Tunnel0's if_id 2^31 included): tests/vm/keyrings.sh inside a QEMU VM that boots a
# stock Debian kernel (scripts/run-in-vm.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin vm-keyrings
IKT_DATAPLANE=kernel VM_TIMEOUT=${VM_TIMEOUT:-600} in_vm tests/vm/keyrings.sh "$@"
suite_end
