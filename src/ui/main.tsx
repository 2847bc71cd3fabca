import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

// The full UI (console, devices, queues, network panels) is issue 8; until then the page says what it is
// and whether it is cross-origin isolated, which the machine's worker will need.
function App() {
  return (
    <main style={{ fontFamily: "system-ui, sans-serif", margin: "2rem" }}>
      <h1>vireo</h1>
      <p>A RISC-V 64 virtual machine (QEMU virt shaped) in TypeScript.</p>
      <p data-testid="isolation">cross-origin isolated: {String(globalThis.crossOriginIsolated === true)}</p>
    </main>
  );
}

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
