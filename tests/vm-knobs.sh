#!/bin/bash
# vm-knobs.sh - tests/knobs.sh on the kernel data path, inside a QEMU VM that boots a
# stock Debian kernel (full XFRM, nftables): adjust-mss through the kernel's netfilter,
# df-bit on XFRM states, the replay window and kilobytes disable in `ip xfrm state`,
# idle-time with XFRM acquires bringing the pair back, mixed-family overlays.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin vm-knobs
VM_TIMEOUT=${VM_TIMEOUT:-900} in_vm tests/knobs.sh kernel "$@"
suite_end
