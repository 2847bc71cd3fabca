#!/usr/bin/env bash
# Builds the bare-metal ISA test programs (tests/isa/*.S) into tests/isa/build/*.elf with Debian's
# binutils-riscv64-unknown-elf, linked at 0x80000000 by link.ld.
#
# A test picks its ISA variants with a `# march: ...` line (default rv64g). Every variant after the
# first is built as NAME-<suffix>.elf (rv64gc → NAME-c.elf), so the same checks also run through the
# compressed encodings the assembler picks. rvc.S must really contain compressed instructions: the
# build fails when objdump does not show every C mnemonic the test is meant to cover.
#
# Each program is also built as build/qemu/NAME.elf with `--defsym QEMU_SPIKE=1`: the copy
# isa.test.ts runs under QEMU's spike machine to check the tests themselves; it leaves out the few
# checks where QEMU 7.2 departs from the spec (each is commented in its .S file).
#
# Rebuilds only what changed (an ELF older than its source, test-macros.inc, link.ld or this script).
set -euo pipefail
cd "$(dirname "$0")"

AS=riscv64-unknown-elf-as
LD=riscv64-unknown-elf-ld
OBJDUMP=riscv64-unknown-elf-objdump

if ! command -v "$AS" >/dev/null 2>&1; then
  echo "installing binutils-riscv64-unknown-elf" >&2
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends binutils-riscv64-unknown-elf
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends binutils-riscv64-unknown-elf
  fi
fi

mkdir -p build/qemu
built=0

needs_build() { # out src
  [ ! -f "$1" ] && return 0
  for dep in "$2" ./*.inc link.ld build.sh; do
    [ "$dep" -nt "$1" ] && return 0
  done
  return 1
}

# Every RV64C mnemonic rvc.S must emit (objdump -M no-aliases spelling; c.nop shows as c.addi zero,0
# and is checked separately).
RVC_MNEMONICS="c.addi4spn c.fld c.lw c.ld c.fsd c.sw c.sd c.addi c.addiw c.li c.addi16sp c.lui
c.srli c.srai c.andi c.sub c.xor c.or c.and c.subw c.addw c.j c.beqz c.bnez c.slli c.fldsp c.lwsp
c.ldsp c.jr c.mv c.ebreak c.jalr c.add c.fsdsp c.swsp c.sdsp"

for src in *.S; do
  name="${src%.S}"
  marchs=$(sed -n 's/^# march: *//p' "$src" | head -n1)
  [ -z "$marchs" ] && marchs=rv64g
  first=1
  for march in $marchs; do
    if [ $first = 1 ]; then out="build/$name.elf"; else out="build/$name-${march#rv64g}.elf"; fi
    first=0
    if needs_build "$out" "$src" || needs_build "build/qemu/${out#build/}" "$src"; then
      obj="${out%.elf}.o"
      "$AS" -march="$march" -mabi=lp64d -mno-relax -I . -o "$obj" "$src"
      "$LD" -T link.ld --no-relax -o "$out" "$obj"
      "$AS" -march="$march" -mabi=lp64d -mno-relax -I . --defsym QEMU_SPIKE=1 -o "$obj" "$src"
      "$LD" -T link.ld --no-relax -o "build/qemu/${out#build/}" "$obj"
      rm -f "$obj"
      built=$((built + 1))
      if [ "$name" = rvc ]; then
        dis=$("$OBJDUMP" -d -M no-aliases "$out")
        missing=""
        for m in $RVC_MNEMONICS; do
          grep -qP "\t$m(\t|$)" <<<"$dis" || missing="$missing $m"
        done
        grep -qP "\t0001 +\tc\.addi\tzero,0" <<<"$dis" || missing="$missing c.nop"
        if [ -n "$missing" ]; then
          echo "rvc.S: no compressed encoding emitted for:$missing" >&2
          rm -f "$out"
          exit 1
        fi
      fi
    fi
  done
done
echo "isa: $built program(s) built in tests/isa/build"
