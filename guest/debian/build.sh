#!/usr/bin/env bash
# npm run guest:debian [-- --force] — builds a Debian trixie riscv64 system from Debian's packages:
#
#   guest/debian/out/debian.img     ext4 root filesystem (2 GiB sparse), made with mmdebstrap (variant
#                                   minbase + systemd, udev, iproute2, ping, wget, ca-certificates, procps,
#                                   less, nano); root is logged in automatically on ttyS0; systemd-networkd
#                                   does DHCP on the first Ethernet interface; apt uses deb.debian.org
#   guest/debian/out/Image          Debian's stock kernel (linux-image-riscv64), as a raw RISC-V Image
#   guest/debian/out/initrd.img     its initramfs (initramfs-tools, MODULES=most + the virtio modules)
#   guest/debian/out/manifest.json  package versions, sizes and sha256 of the files above, bootargs
#
# Boot:  npm run vm -- --kernel guest/debian/out/Image --initrd guest/debian/out/initrd.img \
#          --disk guest/debian/out/debian.img --mem 1024 --append "root=/dev/vda rw console=ttyS0"
#
# Needs root (mmdebstrap --mode=root) and binfmt_misc with qemu-user-static: as root it installs the
# missing host packages with apt-get. Packages come from the machine's configured Debian mirror (the
# first .../debian URI in /etc/apt/sources.list*), nothing else is fetched. SOURCE_DATE_EPOCH is the
# mirror's trixie Release date, the file system's UUID and hash seed are fixed. Two builds from the same
# packages gave the same Image and initrd.img, bit for bit, but not the same debian.img (not yet looked
# into; a likely cause: mkfs.ext4 -d of e2fsprogs 1.47.0 copies the tree's ctimes and atimes, which
# are the build's own).
# Skips the work when the outputs match the inputs (the recipe at the top of this script and
# customize.sh); --force rebuilds (for newer packages, too).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$HERE/out
# The tree is built outside the repository: it has proc, sys and dev mounted while mmdebstrap runs.
WORK=${DEBIAN_BUILD_DIR:-/var/tmp/vireo-debian-build}
SUITE=trixie
SIZE=2G
BOOTARGS="root=/dev/vda rw console=ttyS0"
FS_UUID=5e1ec7ed-0000-4000-8000-000000d3b1a2
HASH_SEED=5e1ec7ed-0000-4000-8000-000000000001
PACKAGES=systemd,systemd-sysv,udev,dbus,iproute2,iputils-ping,wget,ca-certificates,procps,less,nano,kmod,initramfs-tools,zstd,debian-archive-keyring,linux-image-riscv64
FORCE=0
for a in "$@"; do
	case $a in
	--force) FORCE=1 ;;
	-h | --help)
		sed -n '2,20p' "$0"
		exit 0
		;;
	*)
		echo "guest/debian/build.sh: unknown option $a (--force rebuilds)" >&2
		exit 2
		;;
	esac
done
export LC_ALL=C TZ=UTC
umask 022

log() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() {
	printf 'guest/debian/build.sh: %s\n' "$*" >&2
	exit 1
}

# --- inputs and the up-to-date check -----------------------------------------------------------

# What the image is made from: the recipe here and customize.sh (not the mirror's state: --force for that).
inputs_hash() {
	{
		printf '%s\n' "$SUITE" "$SIZE" "$BOOTARGS" "$FS_UUID" "$HASH_SEED" "$PACKAGES"
		cat "$HERE/customize.sh"
	} | sha256sum | cut -d' ' -f1
}
INPUTS=$(inputs_hash)
if [ "$FORCE" = 0 ] && [ -f "$OUT/manifest.json" ]; then
	if node -e '
		const fs = require("fs"), crypto = require("crypto");
		const [dir, inputs] = process.argv.slice(1);
		const m = JSON.parse(fs.readFileSync(dir + "/manifest.json", "utf8"));
		if (m.inputs !== inputs) process.exit(1);
		for (const f of m.files) {
			const st = fs.statSync(dir + "/" + f.name, { throwIfNoEntry: false });
			// size and mtime recorded at build time: a changed file is rebuilt (sha256 of 2 GiB is slow)
			if (!st || st.size !== f.bytes || Math.round(st.mtimeMs) !== f.mtimeMs) process.exit(1);
		}' "$OUT" "$INPUTS"; then
		echo "guest/debian/out/ is up to date (--force rebuilds)"
		exit 0
	fi
fi

[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap --mode=root, device nodes, file owners)"

# --- host packages -------------------------------------------------------------------------------

declare -A NEEDS=(
	[mmdebstrap]=/usr/bin/mmdebstrap
	[qemu-user-static]=/usr/bin/qemu-riscv64-static
	[binfmt-support]=/usr/sbin/update-binfmts
	[e2fsprogs]=/usr/sbin/mkfs.ext4
	[arch-test]=/usr/bin/arch-test
	[debian-archive-keyring]=/usr/share/keyrings/debian-archive-keyring.gpg
	[wget]=/usr/bin/wget
)
missing=()
for p in "${!NEEDS[@]}"; do
	if ! dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || [ ! -e "${NEEDS[$p]}" ]; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]}"
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# binfmt_misc: riscv64 binaries in the tree run under qemu-riscv64-static.
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
	mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || die "cannot mount binfmt_misc"
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-riscv64 ]; then
	update-binfmts --enable qemu-riscv64 || true
fi
arch-test riscv64 >/dev/null || die "riscv64 binaries do not run here (binfmt_misc + qemu-user-static): $(arch-test riscv64)"

# --- the mirror ---------------------------------------------------------------------------------

# The first http(s) URI ending in /debian in the machine's apt sources (one-line or deb822).
mirror() {
	local f u
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		u=$(grep -hoE '^(deb[[:space:]]+(\[[^]]*\][[:space:]]+)?|URIs:[[:space:]]*)https?://[^[:space:]]+/debian/?([[:space:]]|$)' "$f" |
			grep -oE 'https?://[^[:space:]]+' | head -n1 || true)
		if [ -n "$u" ]; then
			echo "${u%/}"
			return
		fi
	done
	echo http://deb.debian.org/debian
}
MIRROR=$(mirror)
log "mirror $MIRROR, suite $SUITE, riscv64"

# Timestamps: the Release's Date (so the same archive state gives the same files).
release_date=$(wget -q -O- "$MIRROR/dists/$SUITE/Release" | sed -n 's/^Date: //p' | head -n1)
[ -n "$release_date" ] || die "could not read $MIRROR/dists/$SUITE/Release"
SOURCE_DATE_EPOCH=$(date -u -d "$release_date" +%s)
export SOURCE_DATE_EPOCH
echo "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH ($release_date)"

# --- the tree -------------------------------------------------------------------------------------

rm -rf "$WORK"
mkdir -p "$WORK" "$OUT"
TREE=$WORK/tree
log "mmdebstrap (slow: every maintainer script runs under qemu-user)"
t0=$(date +%s)
mmdebstrap --mode=root --variant=minbase --architectures=riscv64 \
	--include="$PACKAGES" \
	--aptopt='Acquire::Languages "none"' \
	--customize-hook="bash '$HERE/customize.sh' \"\$1\"" \
	"$SUITE" "$TREE" "deb $MIRROR $SUITE main"
echo "mmdebstrap took $(($(date +%s) - t0)) s"

# Files mmdebstrap sets from the host at its end: ours instead.
echo debian >"$TREE/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$TREE/etc/hosts"
# DNS: the user-mode network's resolver (vireo's stack and QEMU's slirp both answer at 10.0.2.3).
rm -f "$TREE/etc/resolv.conf"
echo "nameserver 10.0.2.3" >"$TREE/etc/resolv.conf"

# --- kernel, initramfs --------------------------------------------------------------------------

kpkg=$(dpkg-query --admindir="$TREE/var/lib/dpkg" -W -f='${Package}\n' 'linux-image-*-riscv64' | grep -v -- '-dbg$' | head -n1)
[ -n "$kpkg" ] || die "no linux-image-*-riscv64 in the tree"
krel=${kpkg#linux-image-}
vmlinuz=$(ls "$TREE/boot/"vmlinu[xz]-"$krel" 2>/dev/null | head -n1)
[ -n "$vmlinuz" ] || die "no /boot/vmlinu[xz]-$krel"
[ -f "$TREE/boot/initrd.img-$krel" ] || die "no /boot/initrd.img-$krel"
if [ "$(head -c2 "$vmlinuz" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then
	gzip -dc "$vmlinuz" >"$WORK/Image"
else
	cp "$vmlinuz" "$WORK/Image"
fi
[ "$(dd if="$WORK/Image" bs=1 skip=56 count=4 2>/dev/null | od -An -c | tr -d ' ')" = 'RSC005' ] ||
	die "$vmlinuz is not a RISC-V Linux Image"
cp "$TREE/boot/initrd.img-$krel" "$WORK/initrd.img"

# (customize.sh has checked that the initramfs carries the virtio drivers and ext4.)

# --- the ext4 image -------------------------------------------------------------------------------

log "mkfs.ext4 -d ($SIZE, sparse)"
rm -f "$WORK/debian.img"
E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mkfs.ext4 -q -F -L debian -U "$FS_UUID" \
	-E "hash_seed=$HASH_SEED,root_owner=0:0" -d "$TREE" "$WORK/debian.img" "$SIZE"

# --- manifest -------------------------------------------------------------------------------------

mv -f "$WORK/Image" "$WORK/initrd.img" "$WORK/debian.img" "$OUT/"
dpkg-query --admindir="$TREE/var/lib/dpkg" -W -f='${Package}\t${Version}\n' >"$WORK/packages.tsv"
log "manifest.json"
node - "$OUT" "$WORK/packages.tsv" "$INPUTS" "$MIRROR" "$SUITE" "$kpkg" "$BOOTARGS" "$SOURCE_DATE_EPOCH" "$SIZE" <<'JS'
const fs = require("fs"), crypto = require("crypto");
const [out, tsv, inputs, mirror, suite, kpkg, bootargs, epoch, size] = process.argv.slice(2);
const packages = Object.fromEntries(fs.readFileSync(tsv, "utf8").trim().split("\n").map((l) => l.split("\t")));
const sha = (f) => {
  const h = crypto.createHash("sha256");
  const fd = fs.openSync(f, "r");
  const buf = Buffer.alloc(1 << 22);
  for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  fs.closeSync(fd);
  return h.digest("hex");
};
const file = (name, extra) => {
  const st = fs.statSync(`${out}/${name}`);
  return { name, bytes: st.size, mtimeMs: Math.round(st.mtimeMs), sha256: sha(`${out}/${name}`), ...extra };
};
const v = (p) => ({ package: p, version: packages[p] });
const manifest = {
  what: "Debian trixie riscv64, built by guest/debian/build.sh (npm run guest:debian)",
  inputs,
  mirror,
  suite,
  sourceDateEpoch: Number(epoch),
  bootargs,
  files: [
    file("Image", { role: "kernel, raw RISC-V Image from the package's /boot/vmlinu[xz]-*", debian: [v(kpkg), v("linux-image-riscv64")] }),
    file("initrd.img", { role: "initramfs (initramfs-tools)", debian: [v("initramfs-tools"), v(kpkg)] }),
    file("debian.img", { role: `ext4 root file system, ${size} sparse`, debian: [v("systemd"), v("udev")] }),
  ],
  packages,
};
fs.writeFileSync(`${out}/manifest.json`, `${JSON.stringify(manifest, null, 2)}\n`);
JS
rm -rf "$WORK"
(cd "$OUT" && ls -ls Image initrd.img debian.img manifest.json)
