#!/bin/bash
# vagrant-provision.sh - provisioner of the Vagrant lab (see Vagrantfile); runs as root
# inside a Debian 12 VM with the checkout in /vagrant.
#
#   vagrant-provision.sh NAME LOCAL_ADDR PEER_ADDR check|nocheck
#
# Builds ikev1d (rustup's stable toolchain: Debian 12's rustc is too old), installs the
# binary, the systemd unit and /etc/ikev1d/ikev1d.conf (examples/NAME.conf with
# `tunnel source` set to LOCAL_ADDR and `tunnel destination` to PEER_ADDR), starts it,
# and with `check` waits for Tunnel23 and pings the peer's fe80::23:N across it.
set -euo pipefail
case ${1:-} in --help|-h|"") sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
name=$1 local=$2 peer=$3 check=${4:-nocheck}

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q build-essential curl iproute2 iputils-ping
if ! [ -x /root/.cargo/bin/cargo ]; then
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
fi
cd /vagrant
/root/.cargo/bin/cargo build --release
install -m 755 target/release/ikev1d /usr/bin/ikev1d
install -m 644 systemd/ikev1d.service /lib/systemd/system/ikev1d.service
install -d -m 700 /etc/ikev1d
sed -e "s|^\( *tunnel source\).*|\1 $local|I" \
    -e "s|^\( *tunnel destination\).*|\1 $peer|I" "examples/$name.conf" > /etc/ikev1d/ikev1d.conf
chmod 600 /etc/ikev1d/ikev1d.conf
ikev1d check --config /etc/ikev1d/ikev1d.conf
systemctl daemon-reload
systemctl enable ikev1d
systemctl restart ikev1d

[ "$check" = check ] || exit 0
other=$(sed -n 's/^ *ipv6 address \(FE80::23:[0-9]*\) link-local/\1/Ip' /etc/ikev1d/ikev1d.conf | head -1)
want=fe80::23:$([ "${other##*:}" = 2 ] && echo 3 || echo 2)
for _ in $(seq 1 60); do
    ikev1d show ipsec --json 2>/dev/null | grep -q '"spi"' && break
    sleep 1
done
ping -c 5 -W 2 "$want%Tunnel23"
ikev1d show ipsec
