import { describe, expect, it } from "vitest";
import { StandInTerminal } from "./stand-in-terminal.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function terminal(cols?: number, rows?: number) {
  const answers: string[] = [];
  const t = new StandInTerminal((b) => answers.push(dec(b)), cols, rows);
  return { answers, show: (s: string) => dec(t.filter(enc(s))) };
}

describe("StandInTerminal", () => {
  it("answers busybox's cursor-position query after a prompt and keeps it out of the output", () => {
    const t = terminal();
    expect(t.show("booted\r\n\r\nvireo:~# \x1b[6n")).toBe("booted\r\n\r\nvireo:~# ");
    expect(t.answers).toEqual(["\x1b[3;10R"]);
  });

  it("answers the login's size question with the screen's corner, and shows nothing of it", () => {
    const t = terminal();
    expect(t.show("login\r\n\x1b7\x1b[999;999H\x1b[6n\x1b8vireo:~# \x1b[6n")).toBe("login\r\nvireo:~# ");
    // The corner, then the restored cursor after the prompt.
    expect(t.answers).toEqual(["\x1b[24;80R", "\x1b[2;10R"]);
    const small = terminal(40, 10);
    small.show("\x1b[999;999H\x1b[6n");
    expect(small.answers).toEqual(["\x1b[10;40R"]);
  });

  it("reads a sequence split across output chunks", () => {
    const t = terminal();
    let shown = "";
    for (const chunk of ["ab\x1b", "[", "6", "n", "cd\x1b[s\x1b[1", "0;5H\x1b[6", "n\x1b[u\x1b[6n"])
      shown += t.show(chunk);
    expect(shown).toBe("abcd");
    expect(t.answers).toEqual(["\x1b[1;3R", "\x1b[10;5R", "\x1b[1;5R"]);
  });

  it("passes colours, erases, relative moves and private sequences on, and follows the moves", () => {
    const t = terminal();
    const text = "\x1b[1;32mgreen\x1b[0m\x1b[K\x1b[2D\x1b[?25l";
    expect(t.show(text)).toBe(text);
    t.show("\x1b[6n");
    expect(t.answers).toEqual(["\x1b[1;4R"]);
  });

  it("wraps long lines at the screen's width and stops at its last row", () => {
    const t = terminal(10, 3);
    t.show(`${"x".repeat(10)}\x1b[6n`);
    t.show("y\x1b[6n");
    t.show("\n\n\n\n\x1b[6n");
    t.show("\rab\tc\b\x1b[6n");
    expect(t.answers).toEqual(["\x1b[1;10R", "\x1b[2;2R", "\x1b[3;2R", "\x1b[3;9R"]);
  });

  it("passes a broken or endless sequence on as it came, and never holds more than a short one", () => {
    const t = terminal();
    expect(t.show("a\x1b[12\nb")).toBe("a\x1b[12\nb");
    const long = `\x1b[${"1".repeat(100)}`;
    expect(t.show(long).length).toBeGreaterThan(90);
    expect(t.answers).toEqual([]);
  });
});
