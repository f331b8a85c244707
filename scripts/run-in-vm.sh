#!/bin/bash
# run-in-vm.sh - run a command as root in a throw-away QEMU VM that boots a
# stock Debian kernel (full XFRM: esp4/esp6, vti/vti6, xfrm interfaces, DES/3DES).
# The guest sees the host's / read-only over 9p with a tmpfs overlay on top, so
# host binaries (ip, charon, cargo test executables) run unmodified; all guest
# writes are discarded at exit.
#
#   run-in-vm.sh CMD [ARGS...]          e.g.  run-in-vm.sh ./tests/xfrm.sh
#   run-in-vm.sh --help
#   CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER=/path/run-in-vm.sh cargo test
#
# CMD runs in the caller's cwd with the caller's exported environment and
# stdin from /dev/null. Its stdout+stderr (merged) go to stdout; the exit
# status is CMD's, or 125 if the VM failed (the guest console is then shown).
# A single non-executable file argument is run with /bin/sh.
#
# Environment:
#   VM_KERNEL   Debian linux-image-<ver>-amd64 .deb, or a directory holding
#               boot/vmlinuz-<ver> and lib/modules/<ver>/ (e.g. a `dpkg -x` of
#               one). Default: apt-get download of linux-image-amd64's kernel.
#               Needs 9p and overlayfs (Debian -cloud-amd64 kernels lack 9p).
#   VM_CACHE    cache for kernels and initramfs (~/.cache/run-in-vm)
#   VM_ACCEL    kvm | tcg | auto (default: kvm if VT-x/AMD-V usable, else tcg)
#   VM_MEM      guest RAM (512M)         VM_SMP      vCPUs (2)
#   VM_TIMEOUT  seconds before the VM is killed (600)
#   VM_MODULES  kernel modules to load before CMD (others load on demand)
#   VM_APPEND   extra kernel command line
#   VM_CONSOLE  file to keep the guest kernel console log in
#
# Host packages (Debian/Ubuntu): qemu-system-x86 busybox-static kmod xz-utils
set -euo pipefail

die() { echo "run-in-vm: $*" >&2; exit 125; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
case ${1:-} in
    --help|-h) usage; exit 0 ;;
    "") usage >&2; exit 125 ;;
esac
cache=${VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/run-in-vm}
mkdir -p "$cache"

tmp= io=
trap 'rm -rf "$tmp" "$io"' EXIT
# publish DIR atomically as DEST (concurrent runs may race to build it)
publish() { mv -T "$1" "$2" 2>/dev/null || rm -rf "$1"; }

# --- kernel ------------------------------------------------------------------
kernel=${VM_KERNEL:-}
if [ -z "$kernel" ]; then
    pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    [ -n "$pkg" ] || die "cannot resolve linux-image-amd64; set VM_KERNEL"
    kernel=$(ls "$cache/$pkg"_*.deb 2>/dev/null | head -n1) ||
        { (cd "$cache" && apt-get download -q "$pkg" >&2) && kernel=$(ls "$cache/$pkg"_*.deb | head -n1); } ||
        die "apt-get download $pkg failed"
fi
if [ -f "$kernel" ]; then
    tree=$cache/$(basename "$kernel" .deb)
    if [ ! -d "$tree" ]; then
        tmp=$(mktemp -d "$cache/.tmp.XXXXXX")
        dpkg -x "$kernel" "$tmp" || die "dpkg -x $kernel failed"
        publish "$tmp" "$tree"
    fi
    kernel=$tree
fi
kernel=$(realpath "$kernel")
vmlinuz=$(ls "$kernel"/boot/vmlinuz-* | head -n1) || die "no boot/vmlinuz-* in $kernel"
kver=${vmlinuz##*/vmlinuz-}
moddir=$kernel/lib/modules/$kver
[ -f "$moddir/modules.dep.bin" ] || depmod -b "$kernel" "$kver" || die "depmod failed"

# --- per-kernel boot files: vmlinux + initramfs (built once) ------------------
boot=$cache/boot-$kver
if [ ! -d "$boot" ] || [ "$vmlinuz" -nt "$boot" ]; then
    tmp=$(mktemp -d "$cache/.tmp.XXXXXX")
    # An uncompressed vmlinux boots via PVH: ~2.5 s faster than the bzImage
    # under TCG (no emulated BIOS + xz decompression). Falls back to bzImage.
    if grep -qs '^CONFIG_PVH=y' "$kernel/boot/config-$kver"; then
        off=$(LC_ALL=C grep -abo $'\xfd7zXZ' "$vmlinuz" | head -n1 | cut -d: -f1 || true)
        [ -z "$off" ] || tail -c +$((off + 1)) "$vmlinuz" | xz -dc --single-stream > "$tmp/vmlinux" 2>/dev/null || true
    fi
    [ "$(head -c4 "$tmp/vmlinux" 2>/dev/null)" = $'\x7fELF' ] || cp "$vmlinuz" "$tmp/vmlinux"

    mkdir -p "$tmp/ird/bin" "$tmp/ird/mod"
    cp /bin/busybox "$tmp/ird/bin/"     # must be static (busybox-static)
    for m in virtio_pci 9pnet_virtio 9p overlay; do
        modprobe -d "$kernel" -S "$kver" --show-depends "$m" 2>/dev/null ||
            die "kernel $kver lacks module $m (needs virtio-pci, 9p, overlayfs)"
    done | awk '$1 == "insmod" && !seen[$2]++ {print $2}' | while read -r ko; do
        cp "$ko" "$tmp/ird/mod/" && echo "${ko##*/}" >> "$tmp/ird/mod/order"
    done
    cat > "$tmp/ird/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /lower /rw /newroot
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /mod/order); do insmod /mod/$m; done
o=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o $o,ro,cache=loose hostroot /lower
mount -t tmpfs -o mode=755 rw /rw
mkdir /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work root /newroot
# fresh /run: the host's sockets and netns files must not show through
mount -t tmpfs -o mode=755 run /newroot/run
mkdir -p /newroot/run/vm/io
mount -t 9p -o $o vmio /newroot/run/vm/io
. /newroot/run/vm/io/boot.env
mkdir -p /newroot/lib/modules/$(uname -r)
mount --bind "/newroot$MODDIR" /newroot/lib/modules/$(uname -r)
cp /bin/busybox /newroot/run/vm/
for d in proc sys dev; do mount --move /$d /newroot/$d; done
# PID 1 itself must change root (a child's chroot would not do): the kernel's
# modprobe helper runs in PID 1's root.
exec switch_root /newroot /run/vm/busybox sh /run/vm/io/stage2
EOF
    chmod +x "$tmp/ird/init"
    (cd "$tmp/ird" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) > "$tmp/initrd.gz"
    rm -rf "$tmp/ird" "$boot"
    publish "$tmp" "$boot"
fi

# --- per-run I/O directory, shared read-write as "vmio" ----------------------
io=$(mktemp -d)
echo "MODDIR='$moddir'" > "$io/boot.env"
cat > "$io/stage2" <<EOF
PATH=/run/vm/bin:/usr/sbin:/usr/bin:/sbin:/bin
mkdir -p /run/vm/bin /dev/pts /dev/shm
/run/vm/busybox --install -s /run/vm/bin
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
ln -s /proc/self/fd /dev/fd
hostname vm
ip link set lo up
# busybox modprobe is several times faster than kmod's when emulated; the
# kernel runs it ~20 times for the first ESP SA (crypto template lookups).
echo /run/vm/bin/modprobe > /proc/sys/kernel/modprobe
${VM_MODULES:+modprobe -a $VM_MODULES}
# into a file on the host (9p, uncached): every line is there when the guest powers
# off, where a serial port would drop what it had not sent yet
{ /bin/bash /run/vm/io/cmd </dev/null; echo \$? > /run/vm/io/rc; } >/run/vm/io/out 2>&1
sync
poweroff -f
EOF
{
    echo '#!/bin/bash'
    export -p | grep -vE '^declare -x (BASH[A-Z_]*|SHELLOPTS|HOSTNAME|PWD|OLDPWD|SHLVL|_)='
    printf 'cd %q || exit 125\n' "$PWD"
    if [ $# = 1 ] && [ -f "$1" ] && [ ! -x "$1" ]; then set -- /bin/sh "$1"; fi
    printf 'exec'; printf ' %q' "$@"; echo
} > "$io/cmd"

accel=${VM_ACCEL:-auto}
if [ "$accel" = auto ]; then
    # A stock kernel needs real VT-x/AMD-V; some sandboxes offer a /dev/kvm
    # without it (e.g. PVM), where a Debian kernel hangs silently at boot.
    if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then accel=kvm; else accel=tcg; fi
fi
case $accel in
    kvm) cpu=(-accel kvm -cpu host) ;;
    tcg) cpu=(-accel tcg,thread=multi -cpu max) ;;
    *) die "VM_ACCEL must be kvm, tcg or auto" ;;
esac

console=${VM_CONSOLE:-$io/console.log}
: >"$io/out"
rc=0
timeout "${VM_TIMEOUT:-600}" qemu-system-x86_64 \
    -nodefaults -no-user-config -display none -no-reboot "${cpu[@]}" \
    -m "${VM_MEM:-512M}" -smp "${VM_SMP:-2}" \
    -kernel "$boot/vmlinux" -initrd "$boot/initrd.gz" \
    -append "console=ttyS0 quiet panic=-1 ${VM_APPEND:-}" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs local,path="$io",mount_tag=vmio,security_model=none \
    -serial file:"$console" </dev/null &
qemu=$!
# CMD's output as it comes; tail reads to the end once qemu is gone
tail -n +1 -f --pid=$qemu "$io/out" &
wait $qemu || rc=$?
wait $!

[ -f "$io/rc" ] && exit "$(cat "$io/rc")"
[ $rc = 124 ] && echo "run-in-vm: timed out after ${VM_TIMEOUT:-600}s" >&2
echo "run-in-vm: VM failed (qemu exit status $rc); guest console:" >&2
cat "$console" >&2 || true
exit 125
