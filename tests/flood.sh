#!/bin/bash
# flood.sh - the responder under a flood, briefly: scripts/flood.sh for 15 s with a 10 s
# phase 2 lifetime, ikev1d only, on the dev profile's binaries (the 60 s run and the
# comparison with strongSwan: scripts/flood.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash scripts/flood.sh --duration "${FLOOD_SECONDS:-15}" --lifetime 10 --no-strongswan --debug
