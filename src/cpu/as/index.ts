// The core module's entry: everything the host (src/cpu/wasm-core.ts) calls.
export { setBase } from "./state";
export * from "./core";
