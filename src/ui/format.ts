// Small formatting helpers the panels share.

export function hex(n: number | undefined, width = 0): string {
  if (n === undefined) return "—";
  return `0x${n.toString(16).padStart(width, "0")}`;
}

/** One formatter for every count: the panels format hundreds of numbers four times a second. */
const COUNT = new Intl.NumberFormat("en-US");

export function count(n: number | undefined): string {
  return n === undefined ? "—" : COUNT.format(n);
}

export function bytes(n: number | undefined): string {
  if (n === undefined) return "—";
  if (n < 10 * 1024) return `${n} B`;
  if (n < 10 * 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}
