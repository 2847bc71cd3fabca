import { describe, expect, it } from "vitest";
import type { QueueSnapshot } from "../../../worker/protocol.ts";
import { COLUMNS, DEFAULT_COLUMNS, parseChosen, shownColumns } from "./queue-columns.ts";

describe("the Queues panel's columns", () => {
  it("default to the live counters, a compact set of all there are", () => {
    expect(DEFAULT_COLUMNS).toEqual(["size", "availIdx", "usedIdx", "inFlight", "kicks", "irq"]);
    expect(COLUMNS.length).toBe(15); // and the queue's name: the 16 the issue counted
    for (const k of DEFAULT_COLUMNS) expect(COLUMNS.some((c) => c.key === k)).toBe(true);
  });

  it("read a stored choice in the table's order, and fall back to the default for anything unusable", () => {
    expect(parseChosen(JSON.stringify(["kicks", "desc", "nonsense"]))).toEqual(["desc", "kicks"]);
    for (const bad of [null, "{", "42", "[]", '["nonsense"]']) expect(parseChosen(bad)).toEqual([...DEFAULT_COLUMNS]);
  });

  it("show an optional column only when some queue reports it", () => {
    const q = { descAddr: undefined } as unknown as QueueSnapshot;
    expect(shownColumns(["desc", "kicks"], [q]).map((c) => c.key)).toEqual(["kicks"]);
    const withAddr = { descAddr: 0x1000 } as unknown as QueueSnapshot;
    expect(shownColumns(["desc", "kicks"], [q, withAddr]).map((c) => c.key)).toEqual(["desc", "kicks"]);
  });
});
