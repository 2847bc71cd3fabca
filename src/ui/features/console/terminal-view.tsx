// One xterm.js terminal bound to a guest console port. Output is written straight from the worker's
// messages (no React state per chunk); keystrokes and pastes go back as bytes. The terminal refits
// whenever its box changes size, and hvc0's size goes to the guest (VIRTIO_CONSOLE_F_SIZE). Ctrl+Shift+C
// copies; Ctrl+Shift+V and the context menu's Paste paste (the browser's own paste event, which xterm
// takes: once), since plain Ctrl+C and Ctrl+V belong to the guest (SIGINT, literal next). Tab belongs to
// the guest too (the shell completes with it): Esc then Tab (or Shift+Tab) leaves the terminal, and Tab
// comes back to it (LEAVE_HINT says so beside it).

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
  /** xterm's screen-reader mode: the screen's rows as an accessibility tree a screen reader reads. */
  screenReader: boolean;
  /** The id of the element that says how to leave the terminal (its input's description). */
  describedBy?: string;
}

/** The documented way out of the terminal (README): the key after an Esc, when it is Tab, is the page's. */
/** How long an Esc waits for a Tab that makes it the way out (README: "within a second"). */
const ESC_WAIT_MS = 1000;
const MODIFIER_KEYS = new Set(["Shift", "Control", "Alt", "Meta", "AltGraph", "CapsLock"]);

export const LEAVE_HINT =
  "Esc then Tab (or Shift+Tab) leaves the terminal, Tab returns · Ctrl+Shift+C copies · Ctrl+Shift+V or right-click › Paste pastes";

/** hvc0 has no shell of its own (ttyS0 has the console); the tab says what it is, dim, never sent to the guest. */
export const HVC0_NOTE =
  "\x1b[2m[vireo: hvc0 is the virtio console, a second terminal for the guest's programs; its size follows this " +
  "tab. For a shell here, type on ttyS0: setsid -c sh -l <>/dev/hvc0 >&0 2>&1 &]\x1b[0m\r\n";

const DARK_THEME = {
  background: "#0d1117",
  foreground: "#d7dce2",
  cursor: "#7ee787",
  selectionBackground: "#2f4a6b",
};

/** For prefers-color-scheme: light (app.css has the page's side); ANSI white and yellow darkened to read on white. */
const LIGHT_THEME = {
  background: "#ffffff",
  foreground: "#1f2328",
  cursor: "#1a7f37",
  cursorAccent: "#ffffff",
  selectionBackground: "#b6d7ff",
  yellow: "#9a6700",
  brightYellow: "#7d4e00",
  white: "#6e7781",
  brightWhite: "#57606a",
};

function lightScheme(): MediaQueryList | undefined {
  return typeof window.matchMedia === "function" ? window.matchMedia("(prefers-color-scheme: light)") : undefined;
}

export const TerminalView = memo(function TerminalView({
  client,
  port,
  visible,
  label,
  screenReader,
  describedBy,
}: Props) {
  const boxRef = useRef<HTMLElement>(null);
  const fitRef = useRef<FitAddon | undefined>(undefined);
  const termRef = useRef<Terminal | undefined>(undefined);
  /** Read once when the terminal is made; later changes go through term.options (the effect below). */
  const screenReaderAtStart = useRef(screenReader);

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
      theme: lightScheme()?.matches === true ? LIGHT_THEME : DARK_THEME,
      screenReaderMode: screenReaderAtStart.current,
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(box);
    termRef.current = term;
    fitRef.current = fit;
    // The page's e2e test and curious people can read the screen without xterm internals.
    (box as HTMLElement & { vireoTerminal?: Terminal }).vireoTerminal = term;

    if (describedBy !== undefined) term.textarea?.setAttribute("aria-describedby", describedBy);

    // Esc then Tab is the page's way out. The Esc waits up to ESC_WAIT_MS for the next key: a Tab then
    // leaves the terminal (the browser moves the focus on: xterm leaves alone an event it is told not to
    // handle) and the guest never sees the Esc; any other key, or the time running out, sends it first.
    // Sent at once, a lone ESC would sit in the shell's line editor and swallow what is typed next.
    let pendingEsc: ReturnType<typeof setTimeout> | undefined;
    const sendEsc = (): void => {
      if (pendingEsc === undefined) return;
      clearTimeout(pendingEsc);
      pendingEsc = undefined;
      client.input(port, "\x1b");
    };
    term.attachCustomKeyEventHandler((ev) => {
      if (ev.type === "keydown" && !MODIFIER_KEYS.has(ev.key)) {
        if (ev.key === "Tab" && pendingEsc !== undefined) {
          clearTimeout(pendingEsc);
          pendingEsc = undefined;
          return false;
        }
        sendEsc();
        if (ev.key === "Escape" && !ev.ctrlKey && !ev.altKey && !ev.metaKey && !ev.shiftKey) {
          pendingEsc = setTimeout(sendEsc, ESC_WAIT_MS);
          return false;
        }
      }
      if (ev.type !== "keydown" || !ev.ctrlKey || !ev.shiftKey) return true;
      if (ev.code === "KeyC") {
        if (term.hasSelection()) void navigator.clipboard?.writeText(term.getSelection());
        return false;
      }
      // Ctrl+Shift+V: xterm leaves the key alone, and the browser's paste (as plain text) reaches xterm's
      // textarea as a paste event, like the context menu's Paste. Reading the clipboard here as well pasted
      // twice (and asks for a permission the paste event does not need).
      if (ev.code === "KeyV") return false;
      return true;
    });
    const data = term.onData((s) => client.input(port, s));
    // hvc0's size is the guest's (VIRTIO_CONSOLE_F_SIZE): the size now, then every refit. ttyS0 has no channel
    // for it (the image's login asks the terminal instead).
    const sized = port === "hvc0" ? term.onResize(({ cols, rows }) => client.consoleSize(cols, rows)) : undefined;
    if (port === "hvc0") {
      client.consoleSize(term.cols, term.rows);
      term.write(HVC0_NOTE);
    }
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
      if (port === "hvc0") term.write(HVC0_NOTE);
    });

    // The system's light/dark choice, followed while the page is open.
    const scheme = lightScheme();
    const schemeChanged = (e: MediaQueryListEvent): void => {
      term.options.theme = e.matches ? LIGHT_THEME : DARK_THEME;
    };
    scheme?.addEventListener("change", schemeChanged);

    const observer = new ResizeObserver(() => {
      if (box.offsetWidth > 0 && box.offsetHeight > 0) fit.fit();
    });
    observer.observe(box);
    return () => {
      observer.disconnect();
      scheme?.removeEventListener("change", schemeChanged);
      offConsole();
      offRestart();
      clearTimeout(pendingEsc);
      data.dispose();
      sized?.dispose();
      term.dispose();
      termRef.current = undefined;
      fitRef.current = undefined;
    };
  }, [client, port, describedBy]);

  useEffect(() => {
    const term = termRef.current;
    if (term !== undefined) term.options.screenReaderMode = screenReader;
  }, [screenReader]);

  useEffect(() => {
    if (!visible) return;
    fitRef.current?.fit();
    // Shown by a click, the terminal takes the keyboard; shown by arrow keys on its tab, the tab keeps it.
    if (document.activeElement?.getAttribute("role") !== "tab") termRef.current?.focus();
  }, [visible]);

  return <section ref={boxRef} className="terminal" data-port={port} aria-label={label} hidden={!visible} />;
});
