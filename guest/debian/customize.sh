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

# The host share (virtio-9p, mount tag "host": vireo's --share, QEMU's -virtfs ...,mount_tag=host) is
# mounted at /mnt/host when, and only when, the machine has a 9p device: mount-host-share.service looks for
# one once the boot's devices are there, loads Debian's 9pnet_virtio module for it and starts mnt-host.mount
# (mount -t 9p -o trans=virtio,version=9p2000.L host /mnt/host) before the login prompts. Without a 9p
# device it loads nothing and mounts nothing, so a boot without a share neither waits for a device nor
# leaves a failed unit. (Not a udev rule: on vireo, udev's coldplug left the 9p and rng devices without
# their drivers in some boots and bound them in others, so a rule waiting for the driver was not dependable.)
mkdir -p "$T/mnt/host" "$T/usr/local/sbin"
cat >"$T/etc/systemd/system/mnt-host.mount" <<'UNIT'
[Unit]
Description=Host share (virtio-9p, mount tag "host")
Documentation=https://docs.kernel.org/filesystems/9p.html
# Started by mount-host-share.service when there is a share, not by local-fs.target or the network.
DefaultDependencies=no
Conflicts=umount.target
Before=umount.target

[Mount]
What=host
Where=/mnt/host
Type=9p
Options=trans=virtio,version=9p2000.L
UNIT
cat >"$T/usr/local/sbin/mount-host-share" <<'SH'
#!/bin/sh
# Mounts the virtio-9p share tagged "host" at /mnt/host (mnt-host.mount) when the machine has one.
grep -qsx 0x0009 /sys/bus/virtio/devices/*/device || exit 0
modprobe 9pnet_virtio
for t in /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag; do
	if [ "$(cat "$t" 2>/dev/null)" = host ]; then
		exec systemctl start mnt-host.mount
	fi
done
echo "mount-host-share: no virtio-9p device is tagged host: nothing mounted at /mnt/host"
SH
chmod 755 "$T/usr/local/sbin/mount-host-share"
cat >"$T/etc/systemd/system/mount-host-share.service" <<'UNIT'
[Unit]
Description=Mount the host share at /mnt/host when there is one (virtio-9p, tag "host")
# The transports and their devices are there since the root disk; the logins wait for the share.
Before=systemd-user-sessions.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/mount-host-share

[Install]
WantedBy=multi-user.target
UNIT
chroot "$T" systemctl enable mount-host-share.service
