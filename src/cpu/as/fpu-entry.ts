// AssemblyScript test entry for the FPU (src/cpu/fpu-wasm.test.ts compiles it): fpExec plus the state accessors
// a host needs to drive it. Compile with -O3 --runtime stub --noAssert --importMemory --use abort=.

import { fflags, frm } from "./state";

export { fpExec } from "./fpu";
export { setBase, setFflags, setFrm } from "./state";

export function getFflags(): u32 {
  return fflags;
}

export function getFrm(): u32 {
  return frm;
}
