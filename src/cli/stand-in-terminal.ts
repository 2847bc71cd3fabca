/**
 * The terminal's side of a console whose output reaches no terminal that could answer back: stdout is a
 * file or a pipe, stdin is not the terminal, or --exec types into the console itself (then nothing of
 * stdin reaches the guest). The guest asks where the cursor is — busybox's line editor after every prompt
 * (ESC [ 6 n), the image's /etc/profile once at login to learn the screen's size (save the cursor, move it
 * to ESC [ 999;999 H, ask, restore it) — and a real terminal would answer on its input. Here nothing would:
 * the queries would show in the output as `[6n`, and the size query would wait out its timeout at every
 * login. So this plays a screen of `cols` × `rows`: it follows the cursor through the output, answers the
 * position queries, and drops from the output what only a screen gives meaning to: device status queries
 * (CSI n), cursor save/restore (ESC 7, ESC 8, CSI s, CSI u) and absolute cursor positioning (CSI H, CSI f).
 * Everything else (text, colours, relative moves, erases) passes unchanged.
 *
 * The console output is the guest's: any byte may come, sequences may be split across chunks, and a
 * sequence longer than MAX_SEQUENCE is passed through as it is rather than held without bound.
 */

const ESC = 0x1b;
/** Longer than any sequence this acts on; a longer one is not ours to interpret. */
const MAX_SEQUENCE = 32;

type State = "text" | "esc" | "csi";

export class StandInTerminal {
  private row = 1;
  /** 1-based; cols + 1 means "past the last column": the next printable character wraps first. */
  private col = 1;
  private saved: [number, number] = [1, 1];
  private state: State = "text";
  /** The escape sequence being read (held back until it is complete). */
  private seq: number[] = [];

  constructor(
    /** Delivers an answer to the guest, as a terminal's keyboard input. */
    private readonly answer: (bytes: Uint8Array) => void,
    readonly cols = 80,
    readonly rows = 24,
  ) {}

  /** Console output in, what to show out (the queries and their cursor moves taken away). */
  filter(bytes: Uint8Array): Uint8Array {
    const out: number[] = [];
    for (const b of bytes) {
      if (this.state === "text") {
        if (b === ESC) {
          this.state = "esc";
          this.seq = [b];
        } else {
          this.text(b);
          out.push(b);
        }
        continue;
      }
      this.seq.push(b);
      if (this.state === "esc") {
        if (b === 0x5b /* [ */) {
          this.state = "csi";
          continue;
        }
        this.state = "text";
        if (b === 0x37 /* 7 */) this.saved = [this.row, Math.min(this.col, this.cols)];
        else if (b === 0x38 /* 8 */) [this.row, this.col] = this.saved;
        else out.push(...this.seq);
        continue;
      }
      // CSI: parameter and intermediate bytes until a final byte in 0x40..0x7e (ECMA-48 5.4).
      if (b >= 0x40 && b <= 0x7e) {
        this.state = "text";
        if (!this.csi(b)) out.push(...this.seq);
      } else if (b < 0x20 || b > 0x3f || this.seq.length > MAX_SEQUENCE) {
        // Not a control sequence after all (or not one of ours): pass it on as it came.
        this.state = "text";
        out.push(...this.seq);
        for (const c of this.seq.slice(1)) this.text(c);
      }
    }
    return Uint8Array.from(out);
  }

  /** Follows the cursor over one byte of text. */
  private text(b: number): void {
    if (b === 0x0d) this.col = 1;
    else if (b === 0x0a) this.row = Math.min(this.row + 1, this.rows);
    else if (b === 0x08) this.col = Math.max(1, Math.min(this.col, this.cols) - 1);
    else if (b === 0x09) this.col = Math.min(this.cols, (((Math.min(this.col, this.cols) - 1) >> 3) + 1) * 8 + 1);
    else if (b >= 0x20 && b !== 0x7f && (b & 0xc0) !== 0x80) {
      // A printable character (a UTF-8 continuation byte is part of the one before it).
      if (this.col > this.cols) {
        this.col = 1;
        this.row = Math.min(this.row + 1, this.rows);
      }
      this.col++;
    }
  }

  /** Acts on a complete CSI sequence; true when it is one to take out of the output. */
  private csi(final: number): boolean {
    const body = String.fromCharCode(...this.seq.slice(2, -1));
    if (!/^[0-9;]*$/.test(body)) return false; // private (ESC [ ? …) or with intermediates: not ours
    const params = body === "" ? [] : body.split(";").map((p) => (p === "" ? 0 : Number(p)));
    const n = (i: number): number => Math.max(1, params[i] ?? 1);
    const col = Math.min(this.col, this.cols);
    switch (String.fromCharCode(final)) {
      case "n":
        if (params[0] === 6) this.reply(`\x1b[${this.row};${col}R`);
        else if (params[0] === 5) this.reply("\x1b[0n");
        return true;
      case "H":
      case "f":
        this.row = Math.min(n(0), this.rows);
        this.col = Math.min(n(1), this.cols);
        return true;
      case "s":
        this.saved = [this.row, col];
        return true;
      case "u":
        [this.row, this.col] = this.saved;
        return true;
      case "A":
        this.row = Math.max(1, this.row - n(0));
        return false;
      case "B":
        this.row = Math.min(this.rows, this.row + n(0));
        return false;
      case "C":
        this.col = Math.min(this.cols, col + n(0));
        return false;
      case "D":
        this.col = Math.max(1, col - n(0));
        return false;
      default:
        return false;
    }
  }

  private reply(s: string): void {
    this.answer(new TextEncoder().encode(s));
  }
}
