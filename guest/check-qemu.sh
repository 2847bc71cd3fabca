#!/usr/bin/env bash
# npm run guest:check — boot public/images/ under Debian's qemu-system-riscv64 (virtio-net on MMIO,
# then on PCI) and check the banner, the prompt and the virtio-net device. See check-qemu.ts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v qemu-system-riscv64 >/dev/null; then
	echo "guest/check-qemu.sh: qemu-system-riscv64 not found (Debian package qemu-system-misc)" >&2
	exit 1
fi
exec npx tsx guest/check-qemu.ts "$@"
