#!/usr/bin/env bash
# Runs as mmdebstrap's --customize-hook with the root filesystem tree as $1 (proc, sys and dev are
# mounted there; commands inside run under qemu-user through binfmt). Configures the image for a serial
# console VM on QEMU's `virt` board (and vireo's): see guest/debian/build.sh.
set -euo pipefail
T=$1
MIRROR=${DEBIAN_IMAGE_MIRROR:-http://deb.debian.org/debian}

# apt: the normal Debian mirror, whatever mirror the build itself used.
rm -f "$T/etc/apt/sources.list"
rm -f "$T"/etc/apt/sources.list.d/*
cat >"$T/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $MIRROR
Suites: trixie
Components: main
SRC

# Serial console: root is logged in on ttyS0 without a password (agetty --autologin).
mkdir -p "$T/etc/systemd/system/serial-getty@ttyS0.service.d"
cat >"$T/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf" <<'UNIT'
[Service]
ExecStart=
ExecStart=-/sbin/agetty -o '-f -- \\u' --autologin root --noclear --keep-baud 115200,57600,38400,9600 - $TERM
UNIT

# Network: systemd-networkd, DHCP on the Ethernet interface (eth0 on virtio-mmio, enp0s* on PCI).
mkdir -p "$T/etc/systemd/network"
cat >"$T/etc/systemd/network/20-wired.network" <<'NET'
[Match]
Name=en* eth*

[Network]
DHCP=ipv4
NET
chroot "$T" systemctl enable systemd-networkd.service

# Root on the first virtio disk, no fsck pass (the disk is a fresh image every boot).
printf '/dev/vda\t/\text4\trw,errors=remount-ro\t0\t0\n' >"$T/etc/fstab"

# The initramfs carries the virtio transports, block and net drivers and ext4, and loads them.
cat >"$T/etc/initramfs-tools/modules" <<'MOD'
virtio_mmio
virtio_pci
virtio_blk
virtio_net
ext4
MOD
chroot "$T" update-initramfs -u -k all
for k in "$T"/boot/initrd.img-*; do
	rel=${k#*/initrd.img-}
	list=$(chroot "$T" lsinitramfs "/boot/initrd.img-$rel")
	# A driver is there as a module in the initramfs or built into the kernel (modules.builtin).
	list+=$'\n'$(cat "$T/lib/modules/$rel/modules.builtin" 2>/dev/null || true)
	for m in virtio_mmio virtio_pci virtio_blk virtio_net ext4; do
		grep -qE "/$m\.ko(\.[a-z]+)?$" <<<"$list" || {
			echo "customize.sh: initrd.img-$rel has no $m module (and the kernel does not build it in)" >&2
			exit 1
		}
	done
done
