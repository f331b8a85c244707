#!/bin/bash
# multi-tunnel.sh - several tunnels between one address and several (a branch with an
# uplink per tunnel to one head-end address, `tunnel source` on each), userspace data
# path: 2 and 50 tunnels, the many-address side starting second (fan-in) and first
# (fan-out). Every tunnel comes up and passes a ping, no tunnel's SA pair goes down on
# the way, and after a kill -9 and restart of the many-address side every tunnel is
# back, each INITIAL-CONTACT having cleared its own tunnel's old SAs only (lib.sh's
# `fan`). Arguments: the scenarios (in2 out2 in50 out50; default all).
# Namespaces $IKT_NS-<scenario>-one/-many.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin multi-tunnel

in2() { fan in2 2 one --dataplane userspace; }
out2() { fan out2 2 many --dataplane userspace; }
in50() { fan in50 50 one --dataplane userspace; }
out50() { fan out50 50 many --dataplane userspace; }

for s in "${@:-in2 out2 in50 out50}"; do
    for one in $s; do scenario "$one" "$one"; done
done
wait_scenarios 600
suite_end
