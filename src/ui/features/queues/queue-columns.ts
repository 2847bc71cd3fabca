// The Queues panel's columns: every counter a virtqueue reports, and which of them show. The default is the
// compact set a person watches live (size, the two indices, chains in flight, kicks, interrupts), which fits
// the inspector at 1280×720; the chooser adds the rest (ring addresses, EVENT_IDX, bytes, …), remembered in
// this browser.

import type { QueueSnapshot } from "../../../worker/protocol.ts";
import { bytes, count, hex } from "../../format.ts";

export interface Column {
  key: string;
  label: string;
  title: string;
  value: (q: QueueSnapshot) => string | number;
  /** Shown only when some queue has the field (older device modules leave it out). */
  optional?: (q: QueueSnapshot) => boolean;
}

export const COLUMNS: Column[] = [
  {
    key: "size",
    label: "size",
    title: "ring entries (driver's choice) / device maximum",
    value: (q) => `${q.size}/${q.maxSize}`,
  },
  {
    key: "desc",
    label: "desc",
    title: "descriptor table address",
    value: (q) => hex(q.descAddr),
    optional: (q) => q.descAddr !== undefined,
  },
  {
    key: "avail",
    label: "avail",
    title: "available ring (driver area) address",
    value: (q) => hex(q.driverAddr),
    optional: (q) => q.driverAddr !== undefined,
  },
  {
    key: "used",
    label: "used",
    title: "used ring (device area) address",
    value: (q) => hex(q.deviceAddr),
    optional: (q) => q.deviceAddr !== undefined,
  },
  { key: "availIdx", label: "avail.idx", title: "avail.idx as last read", value: (q) => q.lastAvailIdx },
  { key: "usedIdx", label: "used.idx", title: "used.idx as last written", value: (q) => q.lastUsedIdx },
  { key: "inFlight", label: "in flight", title: "chains popped and not yet returned", value: (q) => q.inFlight },
  { key: "kicks", label: "kicks", title: "driver notifications", value: (q) => q.kicks },
  { key: "irq", label: "irqs", title: "interrupts raised", value: (q) => q.interruptsRaised },
  {
    key: "suppressed",
    label: "suppressed",
    title: "interrupts suppressed (EVENT_IDX / NO_INTERRUPT)",
    value: (q) => q.interruptsSuppressed,
  },
  {
    key: "event",
    label: "event idx",
    title: "EVENT_IDX negotiated; used_event / avail_event when known",
    value: (q) => (q.eventIdx ? (q.usedEvent !== undefined ? `${q.usedEvent}/${q.availEvent ?? "—"}` : "on") : "off"),
  },
  { key: "chains", label: "chains", title: "chains popped", value: (q) => count(q.chainsPopped) },
  { key: "in", label: "read", title: "bytes the driver handed the device", value: (q) => bytes(q.bytesRead) },
  { key: "out", label: "written", title: "bytes the device wrote back", value: (q) => bytes(q.bytesWritten) },
  { key: "dropped", label: "dropped", title: "chains refused for breaking a rule", value: (q) => q.chainsDropped },
];

/** The columns shown until the person chooses: the live counters. */
export const DEFAULT_COLUMNS: readonly string[] = ["size", "availIdx", "usedIdx", "inFlight", "kicks", "irq"];

const STORAGE_KEY = "vireo.queueColumns";

/** The chosen columns' keys, in COLUMNS order: unknown keys dropped; nothing usable means the default. */
export function parseChosen(text: string | null): string[] {
  if (text === null) return [...DEFAULT_COLUMNS];
  let keys: unknown;
  try {
    keys = JSON.parse(text);
  } catch {
    return [...DEFAULT_COLUMNS];
  }
  if (!Array.isArray(keys)) return [...DEFAULT_COLUMNS];
  const chosen = COLUMNS.filter((c) => keys.includes(c.key)).map((c) => c.key);
  return chosen.length === 0 ? [...DEFAULT_COLUMNS] : chosen;
}

export function loadChosenColumns(): string[] {
  try {
    return parseChosen(localStorage.getItem(STORAGE_KEY));
  } catch {
    return [...DEFAULT_COLUMNS];
  }
}

export function saveChosenColumns(keys: readonly string[]): void {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(keys));
  } catch {
    // Storage refused (a private window's policy): the choice holds for this visit only.
  }
}

/** The chosen columns that have something to show (an optional one needs some queue to report it). */
export function shownColumns(chosen: readonly string[], queues: readonly QueueSnapshot[]): Column[] {
  return COLUMNS.filter(
    (c) => chosen.includes(c.key) && (c.optional === undefined || queues.some((q) => c.optional?.(q))),
  );
}
