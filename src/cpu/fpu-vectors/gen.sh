#!/usr/bin/env bash
# Regenerates vectors.json, the reference results src/cpu/fpu.test.ts checks the Fpu against.
# Needs riscv64-linux-gnu-gcc and qemu-riscv64 (Debian: gcc-riscv64-linux-gnu, qemu-user); the tests don't.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
riscv64-linux-gnu-gcc -static -O1 -march=rv64gc -mabi=lp64d -Wall -Wextra -o "$tmp/gen" "$here/gen.c"
qemu-riscv64 "$tmp/gen" >"$tmp/vectors.json"
mv "$tmp/vectors.json" "$here/vectors.json"
echo "wrote $here/vectors.json ($(wc -c <"$here/vectors.json") bytes)"
