#!/bin/bash
# keyrings.sh - keyrings, ISAKMP profiles and identities between two ikev1d on this
# machine's kernel (userspace data path): tests/vm/keyrings.sh, which
# tests/vm-keyrings.sh runs in the VM on the kernel data path.
set -euo pipefail
cd "$(dirname "$0")/.."
IKT_DATAPLANE=userspace exec bash tests/vm/keyrings.sh "$@"
