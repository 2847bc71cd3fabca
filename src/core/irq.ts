// A level-triggered interrupt wire. Devices hold one and set its level; they never know what is on
// the other end (the PLIC, a PCI INTx swizzle, or a test probe).

export interface IrqLine {
  set(level: boolean): void;
}

/** An IrqLine that records its level: for tests, and for sources several devices share (OR of levels). */
export class LevelIrq implements IrqLine {
  level = false;
  raised = 0;
  constructor(private readonly onChange?: (level: boolean) => void) {}
  set(level: boolean): void {
    if (level && !this.level) this.raised++;
    if (level !== this.level) {
      this.level = level;
      this.onChange?.(level);
    }
  }
}

/** Several devices driving one interrupt input: the output is the OR of all inputs. */
export class SharedIrq {
  private levels: boolean[] = [];
  constructor(private readonly out: IrqLine) {}
  line(): IrqLine {
    const i = this.levels.length;
    this.levels.push(false);
    return {
      set: (level: boolean) => {
        this.levels[i] = level;
        this.out.set(this.levels.some((l) => l));
      },
    };
  }
}
