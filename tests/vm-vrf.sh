#!/bin/bash
# vm-vrf.sh - VRFs (`vrf forwarding`, `tunnel vrf`, keyrings per front-door VRF) on both
# data paths, inside a QEMU VM that boots a stock Debian kernel (this machine's has no
# VRF devices): tests/vm/vrf.sh. Arguments: its scenarios (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin vm-vrf
for tool in jq; do
    command -v $tool >/dev/null || check "$tool installed (scripts/test.sh installs it)" false
done
VM_TIMEOUT=${VM_TIMEOUT:-900} in_vm tests/vm/vrf.sh "$@"
suite_end
