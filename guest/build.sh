#!/usr/bin/env bash
# npm run guest — builds the vireo guest images from Debian bookworm packages only:
#
#   public/images/fw_dynamic.bin   OpenSBI (Debian's opensbi package, copied as is)
#   public/images/Image            Linux 6.1 (linux-source-6.1 + guest/linux.fragment), raw Image
#   public/images/initramfs.cpio   uncompressed newc cpio: static busybox + guest/rootfs/
#   public/images/manifest.json    sizes, sha256, Debian package versions, bootargs
#
# Work happens in guest/build/ (gitignored). Re-running is incremental and reproducible
# (fixed timestamps, user, host, file owners and order). JOBS=<n> sets make -j (default 2).
#
# npm run guest -- --initramfs-only
#   rebuilds initramfs.cpio alone, from guest/rootfs/ and a busybox: the one guest/build/ has
#   built if there is one (rebuilt if guest/busybox.config changed), else the busybox binary and
#   its applet links taken out of the current public/images/initramfs.cpio. The kernel, the
#   firmware and their manifest entries stay as they are. Needs only gcc, xz and linux-source-6.1
#   (for the kernel's usr/gen_init_cpio.c, the one file extracted from it): minutes less than
#   a kernel build. Same bytes from the same inputs, like the full build.
set -euo pipefail

INITRAMFS_ONLY=0
for arg in "$@"; do
	case $arg in
	--initramfs-only) INITRAMFS_ONLY=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		printf 'guest/build.sh: unknown argument %s (try --help)\n' "$arg" >&2
		exit 2
		;;
	esac
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GUEST=$ROOT/guest
BUILD=$GUEST/build
OUT=$ROOT/public/images
JOBS=${JOBS:-2}

# The command line the image is made for; the emulator and check-qemu.ts read it from the manifest.
BOOTARGS="console=ttyS0 earlycon=sbi"

LINUX_TARBALL=/usr/src/linux-source-6.1.tar.xz
OPENSBI_FW=/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin
CROSS=riscv64-linux-gnu-

# Reproducibility: one fixed instant (2025-01-01T00:00:00Z) for everything that records time.
export SOURCE_DATE_EPOCH=1735689600
export KBUILD_BUILD_TIMESTAMP="Wed Jan  1 00:00:00 UTC 2025"
export KBUILD_BUILD_USER=vireo
export KBUILD_BUILD_HOST=vireo
export KBUILD_BUILD_VERSION=1
export KCONFIG_NOTIMESTAMP=1
export LC_ALL=C TZ=UTC
umask 022

log() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() {
	printf 'guest/build.sh: %s\n' "$*" >&2
	exit 1
}
# quietly <log> <command...>: keep a build's chatter in a log, show its tail if it fails.
quietly() {
	local logfile=$1
	shift
	if ! "$@" >"$logfile" 2>&1; then
		tail -n 40 "$logfile" >&2
		die "failed: $* (full log: $logfile)"
	fi
}

# --- 1. host packages ----------------------------------------------------------------------

# package -> a file that proves it is installed (dpkg's status is checked too)
declare -A NEEDS=(
	[make]=/usr/bin/make
	[gcc]=/usr/bin/gcc
	[libc6-dev]=/usr/include/stdio.h
	[bc]=/usr/bin/bc
	[flex]=/usr/bin/flex
	[bison]=/usr/bin/bison
	[perl]=/usr/bin/perl
	[libssl-dev]=/usr/include/openssl/ssl.h
	[libelf-dev]=/usr/include/libelf.h
	[xz-utils]=/usr/bin/xz
	[bzip2]=/bin/bzip2
	[dpkg-dev]=/usr/bin/dpkg-source
	[gcc-riscv64-linux-gnu]=/usr/bin/riscv64-linux-gnu-gcc
	[libc6-dev-riscv64-cross]=/usr/riscv64-linux-gnu/lib/libc.a
	[linux-source-6.1]=$LINUX_TARBALL
	[opensbi]=$OPENSBI_FW
)

installed() {
	dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'
}

# ensure_packages [pkg...]: the packages named (default: all of NEEDS).
ensure_packages() {
	local missing=() pkg wanted=("$@")
	[ ${#wanted[@]} -gt 0 ] || wanted=("${!NEEDS[@]}")
	for pkg in "${wanted[@]}"; do
		if ! installed "$pkg" || [ ! -e "${NEEDS[$pkg]}" ]; then missing+=("$pkg"); fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort)
	if [ "$(id -u)" -ne 0 ]; then
		die "missing Debian packages: ${missing[*]}
  install them with:  sudo apt-get update && sudo apt-get install --no-install-recommends ${missing[*]}"
	fi
	log "installing ${missing[*]}"
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" ||
		die "apt-get could not install: ${missing[*]}"
}

# `apt-get source` needs deb-src lines; derive them from the machine's own Debian sources.
ensure_deb_src() {
	if apt-cache showsrc busybox 2>/dev/null | grep -q '^Package: busybox'; then return 0; fi
	[ "$(id -u)" -eq 0 ] || die "no deb-src entry for busybox; add one (deb-src for bookworm main) and run apt-get update"
	local list=/etc/apt/sources.list.d/vireo-deb-src.sources
	log "adding deb-src entries in $list"
	if [ -r /etc/apt/sources.list.d/debian.sources ]; then
		sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$list"
	else
		cat >"$list" <<-'EOF'
			Types: deb-src
			URIs: http://deb.debian.org/debian
			Suites: bookworm bookworm-updates
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

			Types: deb-src
			URIs: http://deb.debian.org/debian-security
			Suites: bookworm-security
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
	fi
	apt-get update
	apt-cache showsrc busybox 2>/dev/null | grep -q '^Package: busybox' ||
		die "apt still has no source package for busybox after adding $list"
}

pkg_version() { dpkg-query -W -f='${Version}' "$1"; }
pkg_source() { dpkg-query -W -f='${source:Package}' "$1"; }

# --- 2. Linux ------------------------------------------------------------------------------

build_linux() {
	local ver ksrc kobj stamp
	ver=$(pkg_version linux-source-6.1)
	ksrc=$BUILD/linux-source-6.1
	kobj=$BUILD/linux-obj
	stamp=$ksrc/.vireo-extracted
	if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$ver" ]; then
		log "extracting linux-source-6.1 $ver"
		rm -rf "$ksrc" "$kobj"
		tar -C "$BUILD" -xf "$LINUX_TARBALL"
		echo "$ver" >"$stamp"
	fi
	mkdir -p "$kobj"
	export ARCH=riscv CROSS_COMPILE=$CROSS

	log "configuring Linux (allnoconfig + guest/linux.fragment)"
	# merge_config.sh -n: allnoconfig with the fragment forced; it reports any request that
	# did not survive (missing dependency) as "Value requested for ... not in final .config".
	(cd "$ksrc" && scripts/kconfig/merge_config.sh -n -O "$kobj" "$GUEST/linux.fragment") \
		>"$BUILD/linux-config.log" 2>&1 || {
		cat "$BUILD/linux-config.log" >&2
		die "merge_config.sh failed"
	}
	if grep -A2 'Value requested for' "$BUILD/linux-config.log" >&2; then
		die "guest/linux.fragment asks for values the kernel config did not accept (see above)"
	fi
	make -s -C "$ksrc" O="$kobj" olddefconfig
	cp "$kobj/.config" "$GUEST/linux.config"

	log "building Linux Image (make -j$JOBS)"
	quietly "$BUILD/linux-make.log" make -C "$ksrc" O="$kobj" -j"$JOBS" Image
	install -m 0644 "$kobj/arch/riscv/boot/Image" "$OUT/Image"
}

# --- 3. busybox ----------------------------------------------------------------------------

BUSYBOX_VERSION=
BUSYBOX_BIN=
BUSYBOX_LINKS=

build_busybox() {
	local dl src obj dsc
	dl=$BUILD/busybox/dl
	obj=$BUILD/busybox/obj
	mkdir -p "$dl" "$obj"
	dsc=$(find "$dl" -maxdepth 1 -name 'busybox_*.dsc' | sort -V | tail -n 1)
	if [ -z "$dsc" ]; then
		ensure_deb_src
		log "fetching Debian's busybox source package"
		(cd "$dl" && apt-get source --download-only busybox) || die "apt-get source busybox failed"
		dsc=$(find "$dl" -maxdepth 1 -name 'busybox_*.dsc' | sort -V | tail -n 1)
		[ -n "$dsc" ] || die "apt-get source busybox produced no .dsc"
	fi
	BUSYBOX_VERSION=$(sed -n 's/^Version: //p' "$dsc")
	src=$BUILD/busybox/src-${BUSYBOX_VERSION#*:} # make cannot take a ":" in a path
	if [ ! -f "$src/Makefile" ]; then
		log "unpacking busybox $BUSYBOX_VERSION (with Debian's patches)"
		rm -rf "$src"
		# apt checked the files against the signed Sources index; dpkg-source only warns that
		# it has no key for the uploader's inline signature.
		dpkg-source -x "$dsc" "$src" >"$BUILD/busybox/unpack.log" 2>&1 || {
			cat "$BUILD/busybox/unpack.log" >&2
			die "dpkg-source -x failed"
		}
	fi

	log "building busybox $BUSYBOX_VERSION (static, riscv64 glibc)"
	cmp -s "$GUEST/busybox.config" "$obj/.config" || cp "$GUEST/busybox.config" "$obj/.config"
	{ yes "" || true; } | make -s -C "$src" O="$obj" oldconfig >/dev/null
	if ! cmp -s "$obj/.config" "$GUEST/busybox.config"; then
		echo "note: kconfig normalised guest/busybox.config (new or changed options); updating it" >&2
		cp "$obj/.config" "$GUEST/busybox.config"
	fi
	# BB_EXTRA_VERSION replaces the build date in the banner (Debian's version.patch).
	quietly "$BUILD/busybox/make.log" \
		make -C "$src" O="$obj" -j"$JOBS" busybox BB_EXTRA_VERSION="Debian $BUSYBOX_VERSION"
	quietly "$BUILD/busybox/links.log" make -C "$src" O="$obj" busybox.links
	BUSYBOX_BIN=$obj/busybox
	BUSYBOX_LINKS=$obj/busybox.links
}

# --initramfs-only without a busybox build: the binary and its applet links (the symlinks to
# /bin/busybox) as the current initramfs.cpio holds them. The links a guest/rootfs/ file
# shadowed when that image was built are not in it, so they come back only with a busybox build.
busybox_from_image() {
	local dir=$BUILD/busybox/from-image
	[ -f "$OUT/initramfs.cpio" ] || die "no $OUT/initramfs.cpio to take busybox from, and no busybox build in $BUILD"
	log "taking busybox out of public/images/initramfs.cpio"
	rm -rf "$dir"
	mkdir -p "$dir"
	node --input-type=module -e '
import { readFileSync, writeFileSync } from "node:fs";
const [cpio, dir] = process.argv.slice(1);
const b = readFileSync(cpio);
const links = [];
let bin;
// newc: a 110-byte ASCII header (magic 070701, 13 hex fields), the name, the data, each 4-aligned.
for (let off = 0; ; ) {
  const h = b.toString("latin1", off, off + 110);
  if (!h.startsWith("070701")) throw new Error(`${cpio}: not a newc cpio at offset ${off}`);
  const field = (i) => Number.parseInt(h.slice(6 + 8 * i, 14 + 8 * i), 16);
  const mode = field(1);
  const size = field(6);
  const nameSize = field(11);
  const name = b.toString("latin1", off + 110, off + 110 + nameSize - 1);
  const at = (off + 110 + nameSize + 3) & ~3;
  if (name === "TRAILER!!!") break;
  const data = b.subarray(at, at + size);
  if (name === "bin/busybox") bin = data;
  // gen_init_cpio stores a symlink target with its NUL.
  else if ((mode & 0o170000) === 0o120000 && data.toString().replace(/\0$/, "") === "/bin/busybox") {
    links.push(`/${name}`);
  }
  off = (at + size + 3) & ~3;
}
if (bin === undefined) throw new Error(`${cpio} has no /bin/busybox`);
writeFileSync(`${dir}/busybox`, bin, { mode: 0o755 });
writeFileSync(`${dir}/busybox.links`, `${links.join("\n")}\n`);
' "$OUT/initramfs.cpio" "$dir" || die "could not read busybox out of $OUT/initramfs.cpio"
	BUSYBOX_BIN=$dir/busybox
	BUSYBOX_LINKS=$dir/busybox.links
}

# --- 4. initramfs --------------------------------------------------------------------------

# The kernel's own usr/gen_init_cpio writes newc from a spec: explicit modes, uid/gid 0, a
# fixed mtime, sequential inode numbers, and /dev/console without needing root or mknod.
build_initramfs() {
	local stage spec gen f rel mode
	stage=$BUILD/rootfs
	spec=$BUILD/initramfs.list
	gen=$BUILD/gen_init_cpio
	if [ ! -f "$BUILD/linux-source-6.1/usr/gen_init_cpio.c" ]; then
		# --initramfs-only: the one file, not the whole tree (build_linux re-extracts it all:
		# its stamp is missing).
		log "extracting usr/gen_init_cpio.c from linux-source-6.1"
		tar -C "$BUILD" -xf "$LINUX_TARBALL" linux-source-6.1/usr/gen_init_cpio.c
	fi
	if [ ! -x "$gen" ] || [ "$gen" -ot "$BUILD/linux-source-6.1/usr/gen_init_cpio.c" ]; then
		gcc -O2 -o "$gen" "$BUILD/linux-source-6.1/usr/gen_init_cpio.c"
	fi

	log "assembling initramfs"
	rm -rf "$stage"
	mkdir -p "$stage/bin"
	cp "$BUSYBOX_BIN" "$stage/bin/busybox"
	cp -r "$GUEST/rootfs/." "$stage/"
	# gen_init_cpio takes regular files' mtimes from disk.
	find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

	{
		for d in /bin /dev /etc /etc/init.d /mnt /proc /run /sbin /sys /usr /usr/bin /usr/sbin /usr/share \
			/usr/share/udhcpc /var; do
			echo "dir $d 0755 0 0"
		done
		echo "dir /root 0700 0 0"
		echo "dir /tmp 01777 0 0"
		echo "nod /dev/console 0600 0 0 c 5 1"
		# The kernel runs /init: busybox's init (applet name from argv[0]), which reads /etc/inittab.
		echo "slink /init /bin/busybox 0777 0 0"
		echo "slink /var/run /run 0777 0 0"
		echo "slink /var/tmp /tmp 0777 0 0"
		(cd "$stage" && find . -type f | sort) | while read -r f; do
			rel=${f#.}
			mode=0644
			[ -x "$stage$rel" ] && mode=0755
			echo "file $rel $stage$rel $mode 0 0"
		done
		while read -r f; do
			[ -e "$stage$f" ] && continue
			echo "slink $f /bin/busybox 0777 0 0"
		done <"$BUSYBOX_LINKS"
	} | sort -u -k2,2 >"$spec"

	"$gen" -t "$SOURCE_DATE_EPOCH" "$spec" >"$OUT/initramfs.cpio"
}

# --- 5. manifest ---------------------------------------------------------------------------

write_manifest() {
	log "writing manifest.json"
	local gccv
	gccv=$(pkg_version gcc-riscv64-linux-gnu)
	OUT="$OUT" BOOTARGS="$BOOTARGS" \
		LINUX_VER="$(pkg_version linux-source-6.1)" LINUX_SRC="$(pkg_source linux-source-6.1)" \
		KERNEL_RELEASE="$(cat "$BUILD/linux-obj/include/config/kernel.release")" \
		OPENSBI_VER="$(pkg_version opensbi)" OPENSBI_SRC="$(pkg_source opensbi)" \
		BUSYBOX_VER="$BUSYBOX_VERSION" \
		GLIBC_VER="$(pkg_version libc6-dev-riscv64-cross)" GLIBC_SRC="$(pkg_source libc6-dev-riscv64-cross)" \
		GCC_VER="$gccv" \
		node --input-type=module -e '
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
const e = process.env;
const gcc = { package: "gcc-riscv64-linux-gnu", version: e.GCC_VER, role: "compiler" };
const entry = (name, debian, extra = {}) => {
  const data = readFileSync(`${e.OUT}/${name}`);
  return { name, bytes: data.length, sha256: createHash("sha256").update(data).digest("hex"), ...extra, debian };
};
const manifest = {
  bootargs: e.BOOTARGS,
  files: [
    entry("fw_dynamic.bin", [
      { package: "opensbi", version: e.OPENSBI_VER, source: e.OPENSBI_SRC, role: "binary, copied unchanged" },
    ]),
    entry("Image", [
      { package: "linux-source-6.1", version: e.LINUX_VER, source: e.LINUX_SRC, role: "source" },
      gcc,
    ], { kernelRelease: e.KERNEL_RELEASE, config: "guest/linux.config" }),
    entry("initramfs.cpio", [
      { package: "busybox", version: e.BUSYBOX_VER, source: "busybox", role: "source (apt-get source)" },
      { package: "libc6-dev-riscv64-cross", version: e.GLIBC_VER, source: e.GLIBC_SRC, role: "static glibc" },
      gcc,
    ], { format: "newc, uncompressed", config: "guest/busybox.config" }),
  ],
};
writeFileSync(`${e.OUT}/manifest.json`, `${JSON.stringify(manifest, null, 2)}\n`);
'
}

# --initramfs-only: the initramfs entry gets its new size and sha256 (and busybox's version when
# busybox was built); everything else in the manifest stays as it is.
update_manifest_initramfs() {
	log "updating manifest.json (initramfs.cpio)"
	[ -f "$OUT/manifest.json" ] || die "no $OUT/manifest.json to update; run the full build (npm run guest)"
	OUT="$OUT" BUSYBOX_VER="$BUSYBOX_VERSION" node --input-type=module -e '
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
const e = process.env;
const path = `${e.OUT}/manifest.json`;
const manifest = JSON.parse(readFileSync(path, "utf8"));
const entry = manifest.files.find((f) => f.name === "initramfs.cpio");
if (entry === undefined) throw new Error(`${path} has no initramfs.cpio entry`);
const data = readFileSync(`${e.OUT}/initramfs.cpio`);
entry.bytes = data.length;
entry.sha256 = createHash("sha256").update(data).digest("hex");
const busybox = entry.debian.find((d) => d.package === "busybox");
if (e.BUSYBOX_VER !== "" && busybox !== undefined) busybox.version = e.BUSYBOX_VER;
writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
'
}

# -------------------------------------------------------------------------------------------

mkdir -p "$BUILD" "$OUT"
if [ "$INITRAMFS_ONLY" = 1 ]; then
	ensure_packages gcc libc6-dev linux-source-6.1 xz-utils
	if [ -x "$BUILD/busybox/obj/busybox" ]; then
		ensure_packages
		build_busybox
	else
		busybox_from_image
	fi
	build_initramfs
	update_manifest_initramfs
	log "done"
	(cd "$OUT" && ls -l initramfs.cpio manifest.json && sha256sum initramfs.cpio)
	exit 0
fi

ensure_packages
build_linux
build_busybox
build_initramfs
install -m 0644 "$OPENSBI_FW" "$OUT/fw_dynamic.bin"
write_manifest

log "done"
(cd "$OUT" && ls -l fw_dynamic.bin Image initramfs.cpio manifest.json && sha256sum fw_dynamic.bin Image initramfs.cpio)
