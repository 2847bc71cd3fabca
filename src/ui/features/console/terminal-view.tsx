// One xterm.js terminal bound to a guest console port. Output is written straight from the worker's
// messages (no React state per chunk); keystrokes and pastes go back as bytes. The terminal refits
// whenever its box changes size. Ctrl+Shift+C / Ctrl+Shift+V copy and paste, since plain Ctrl+C
// belongs to the guest (SIGINT).

import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import { memo, useEffect, useRef } from "react";
import type { ConsolePort } from "../../../worker/protocol.ts";
import type { MachineClient } from "../../machine-client.ts";

interface Props {
  client: MachineClient;
  port: ConsolePort;
  /** Hidden terminals keep receiving output but are not refitted until shown. */
  visible: boolean;
  label: string;
}

const THEME = {
  background: "#0d1117",
  foreground: "#d7dce2",
  cursor: "#7ee787",
  selectionBackground: "#2f4a6b",
};

export const TerminalView = memo(function TerminalView({ client, port, visible, label }: Props) {
  const boxRef = useRef<HTMLElement>(null);
  const fitRef = useRef<FitAddon | undefined>(undefined);
  const termRef = useRef<Terminal | undefined>(undefined);

  useEffect(() => {
    const box = boxRef.current;
    if (box === null) return;
    const term = new Terminal({
      fontFamily: '"DejaVu Sans Mono", "Cascadia Mono", Menlo, monospace',
      fontSize: 14,
      scrollback: 5000,
      convertEol: false,
      // No blinking: xterm's DOM renderer blinks with an endless CSS animation, which has Chromium
      // restyle and composite the page 60 times a second for as long as the tab is open.
      cursorBlink: false,
      theme: THEME,
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(box);
    termRef.current = term;
    fitRef.current = fit;
    // The page's e2e test and curious people can read the screen without xterm internals.
    (box as HTMLElement & { vireoTerminal?: Terminal }).vireoTerminal = term;

    term.attachCustomKeyEventHandler((ev) => {
      if (ev.type !== "keydown" || !ev.ctrlKey || !ev.shiftKey) return true;
      if (ev.code === "KeyC") {
        if (term.hasSelection()) void navigator.clipboard?.writeText(term.getSelection());
        return false;
      }
      if (ev.code === "KeyV") {
        void navigator.clipboard
          ?.readText()
          .then((text) => term.paste(text))
          .catch(() => {});
        return false;
      }
      return true;
    });
    const data = term.onData((s) => client.input(port, s));
    const offConsole = client.on("console", (p, bytes) => {
      if (p === port) term.write(bytes);
    });
    const offRestart = client.on("restart", (why) => {
      term.reset();
      // The restored guest's earlier output is not in the snapshot: say where the screen starts (the page's
      // own words, dim, never sent to the guest).
      if (why === "restore" && port === "uart") {
        term.write("\x1b[2m[vireo: restored from a snapshot: press Enter for a prompt]\x1b[0m\r\n");
      }
    });

    const observer = new ResizeObserver(() => {
      if (box.offsetWidth > 0 && box.offsetHeight > 0) fit.fit();
    });
    observer.observe(box);
    return () => {
      observer.disconnect();
      offConsole();
      offRestart();
      data.dispose();
      term.dispose();
      termRef.current = undefined;
      fitRef.current = undefined;
    };
  }, [client, port]);

  useEffect(() => {
    if (!visible) return;
    fitRef.current?.fit();
    termRef.current?.focus();
  }, [visible]);

  return <section ref={boxRef} className="terminal" data-port={port} aria-label={label} hidden={!visible} />;
});
