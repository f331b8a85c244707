#!/bin/bash
# strongswan-peer.sh - strongSwan IKEv1 peer (Main Mode + Quick Mode, PSK, ESP tunnel)
# inside an existing network namespace, by default with userspace ESP (kernel-libipsec,
# TUN device "ipsec0"), so no kernel ESP (esp4/esp6) is needed.  Tested: Debian 12,
# strongSwan 5.9.8.
#
# Packages: strongswan-charon strongswan-swanctl libcharon-extra-plugins
#           (kernel-libipsec) libstrongswan-standard-plugins (openssl) iproute2.
#           DES-CBC comes from the OpenSSL 3 legacy provider (legacy.so in libssl3),
#           which the openssl plugin loads by itself.
#
# usage: strongswan-peer.sh start NETNS LOCAL_ADDR REMOTE_ADDR PSK
#        strongswan-peer.sh initiate|status|stop NETNS
# LOCAL_ADDR must already be configured in NETNS.  State lives in $SSW_DIR/peer-NETNS.
# Environment overrides (defaults = Cisco IOS IKEv1 defaults + a common fallback):
#   IKE_PROPOSALS  des-sha1-modp768,aes128-sha1-modp1024
#   ESP_PROPOSALS  aes128-sha1            (no PFS, as Cisco's default)
#   LOCAL_TS / REMOTE_TS   ::/0 or 0.0.0.0/0, by address family (VTI-style)
#   CHILD_MODE     tunnel (transport for GRE over IPsec, with traffic selectors such
#                  as LOCAL_TS=192.0.2.3[gre] REMOTE_TS=192.0.2.2[gre])
#   LOCAL_ID       LOCAL_ADDR  (the phase 1 identity strongSwan sends)
#   LOG_LEVEL      1  (4 also logs IKE/ESP keys, for decrypting captures)
#   KERNEL_ESP     set (e.g. 1) to use the kernel's ESP (kernel-netlink only, no
#                  kernel-libipsec): needs a kernel with esp4/esp6, e.g. in the VM.
#                  charon routes the remote TS via REMOTE_ADDR in table 220, and
#                  ::/0 policies also take the outer link's IPv6 neighbour discovery
#                  (lost once the neighbour entry expires): pin the peer's entry (ip
#                  neigh replace ... nud permanent) or, in NETNS, "ip xfrm policy add
#                  src ::/0 dst ::/0 proto ipv6-icmp type T dir D priority 1" for T in
#                  135 136, D in out in fwd.
#   SSW_DIR        ${TMPDIR:-/tmp}/strongswan-peers
set -euo pipefail

CHARON=/usr/lib/ipsec/charon
SSW_DIR=${SSW_DIR:-${TMPDIR:-/tmp}/strongswan-peers}

usage() {
	echo "usage: $0 start NETNS LOCAL_ADDR REMOTE_ADDR PSK | $0 initiate|status|stop NETNS" >&2
	exit 2
}

case ${1:-} in --help|-h) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
[ $# -ge 2 ] || usage
cmd=$1 ns=$2
dir=$SSW_DIR/peer-$ns
uri=unix://$dir/charon.vici

# swanctl only accepts --uri after the command option
sw() { swanctl "$@" --uri "$uri"; }

charon_pid() {
	local pid
	pid=$(cat "$dir/run/charon.pid" 2>/dev/null) || return 1
	[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$CHARON" ] && echo "$pid"
}

write_config() {
	local laddr=$1 raddr=$2 psk=$3 any esp=kernel-libipsec
	case $laddr in *:*) any=::/0 ;; *) any=0.0.0.0/0 ;; esac
	[ -z "${KERNEL_ESP:-}" ] || esp=

	# charon.load instead of load_modular: only what IKEv1 PSK + libipsec needs
	cat >"$dir/strongswan.conf" <<-EOF
	charon {
	  load = random nonce openssl $esp kernel-netlink socket-default vici
	  plugins {
	    vici {
	      socket = $uri
	    }
	  }
	  filelog {
	    peer {
	      path = $dir/charon.log
	      time_format = %T
	      flush_line = yes
	      default = ${LOG_LEVEL:-1}
	    }
	  }
	  syslog {
	    daemon {
	      default = -1
	    }
	  }
	}
	EOF

	# IKE lifetime sent in Main Mode = rekey_time + over_time = 86400s (Cisco default);
	# ESP lifetime sent in Quick Mode = life_time = 3600s (Cisco default).
	cat >"$dir/swanctl.conf" <<-EOF
	connections {
	  peer {
	    version = 1
	    aggressive = no
	    local_addrs = $laddr
	    remote_addrs = $raddr
	    proposals = ${IKE_PROPOSALS:-des-sha1-modp768,aes128-sha1-modp1024}
	    rekey_time = 77760s
	    over_time = 8640s
	    rand_time = 0s
	    local {
	      auth = psk
	      id = ${LOCAL_ID:-$laddr}
	    }
	    remote {
	      auth = psk
	      id = $raddr
	    }
	    children {
	      peer {
	        mode = ${CHILD_MODE:-tunnel}
	        local_ts = ${LOCAL_TS:-$any}
	        remote_ts = ${REMOTE_TS:-$any}
	        esp_proposals = ${ESP_PROPOSALS:-aes128-sha1}
	        rekey_time = 3240s
	        life_time = 3600s
	        rand_time = 0s
	      }
	    }
	  }
	}
	secrets {
	  ike-peer {
	    id-local = ${LOCAL_ID:-$laddr}
	    id-remote = $raddr
	    secret = 0x$(printf %s "$psk" | od -An -tx1 | tr -d ' \n')
	  }
	}
	EOF
}

start() {
	[ $# -eq 3 ] || usage
	ip netns pids "$ns" >/dev/null || exit 1
	if pid=$(charon_pid); then
		echo "charon already running in $ns (pid $pid)" >&2
		exit 1
	fi
	mkdir -p "$dir/run"
	rm -f "$dir/run/charon.pid"
	write_config "$@"

	# charon's pid file (/var/run/charon.pid) is compiled in.  "ip netns exec"
	# already gives the command its own mount namespace (slave propagation), so
	# bind-mounting a per-instance directory over /run stays private to it.
	# shellcheck disable=SC2016  # expanded by the inner sh
	setsid ip netns exec "$ns" sh -c \
		'mount --bind "$1/run" /run && STRONGSWAN_CONF="$1/strongswan.conf" exec "$2"' \
		sh "$dir" "$CHARON" </dev/null >"$dir/charon.out" 2>&1 &

	# up to 60 s: charon starts slowly under an emulated CPU (the VM)
	for _ in $(seq 600); do
		sw --stats >/dev/null 2>&1 && break
		sleep 0.1
	done
	# swanctl also scans x509/, private/, ... next to --file; absent dirs are fine
	if ! sw --load-all --file "$dir/swanctl.conf" >"$dir/load.out" 2>&1; then
		cat "$dir/load.out" "$dir/charon.out" >&2
		stop
		exit 1
	fi
	grep -v '^opening directory' "$dir/load.out" || true
	echo "charon running in $ns, pid $(charon_pid), log $dir/charon.log"
}

stop() {
	local pid
	if ! pid=$(charon_pid); then
		echo "no charon running for $ns"
		return 0
	fi
	kill -TERM "$pid"
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || { echo "stopped charon $pid"; return 0; }
		sleep 0.1
	done
	echo "charon $pid did not exit on SIGTERM, sending SIGKILL" >&2
	kill -KILL "$pid"
}

case $cmd in
start) shift 2; start "$@" ;;
stop) stop ;;
initiate) sw --initiate --child peer --timeout 30 ;;
status) sw --list-sas ;;
*) usage ;;
esac
