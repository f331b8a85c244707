#!/bin/bash
# vm-dvti.sh - dynamic VTI on the kernel data path: tests/vm/dvti.sh inside a QEMU VM
# that boots a stock Debian kernel (scripts/run-in-vm.sh): 200 spokes (one ikev1d with
# 200 addresses) to a hub with one
# Virtual-Template, every Virtual-Access pinged, all removed by DPD after a kill -9 of
# the spokes. Argument: the number of spokes.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin vm-dvti
VM_TIMEOUT=${VM_TIMEOUT:-900} in_vm tests/vm/dvti.sh "$@"
suite_end
