#!/bin/bash
# flood.sh - the responder under a flood, briefly: scripts/flood.sh for 20 s with a 20 s
# phase 2 lifetime, ikev1d only, on the dev profile's binaries (the 60 s run and the
# comparison with strongSwan: scripts/flood.sh). A 20 s lifetime, not shorter: it still
# rekeys within the flood, and leaves IKE the 10 s of quiet `keepalive 10` needs before
# it probes, so DPD under the flood is checked here too.
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash scripts/flood.sh --duration "${FLOOD_SECONDS:-20}" --lifetime 20 --no-strongswan --debug
