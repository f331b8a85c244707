#!/bin/bash
# strongswan-keyring.sh - ikev1d with its key in a keyring, an ISAKMP profile and Tunnel0
# (examples/r2-keyring.conf) against a real strongSwan 5.9.8 IKEv1 peer, each side
# initiating once: tests/strongswan-userspace.sh's scenario (tests/vm/strongswan.sh)
# with that R2; tests/vm-strongswan.sh runs it in the VM too.
set -euo pipefail
cd "$(dirname "$0")/.."
SSW_SUITE=strongswan-keyring R2_CONF=examples/r2-keyring.conf R2_TUNNEL=Tunnel0 R2_PROFILE=R3 \
    exec bash tests/strongswan-userspace.sh
