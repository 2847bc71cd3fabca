// IP literal parsing and CIDR matching for the relay's destination policy. Input is a hostname a Wisp
// client typed, so every spelling a resolver might accept for an address (inet_aton's "127.1",
// "0x7f000001", "017700000001"; "[::ffff:127.0.0.1]") is recognised here — otherwise a numeric form
// would slip past the policy and be turned into a loopback address by getaddrinfo later.

export interface IpAddress {
  family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
}

export interface Cidr {
  family: 4 | 6;
  bytes: Uint8Array;
  prefix: number;
}

/** A number as inet_aton reads it: 0x… hex, leading 0 octal, else decimal. */
function parseAtonPart(s: string): number | null {
  if (s.length === 0 || s.length > 40) return null;
  let digits = s;
  let radix = 10;
  if (/^0x/i.test(s)) {
    digits = s.slice(2);
    radix = 16;
    if (digits.length === 0) return 0; // glibc accepts a bare "0x" as zero
    if (!/^[0-9a-f]+$/i.test(digits)) return null;
  } else if (s.length > 1 && s[0] === "0") {
    digits = s.slice(1);
    radix = 8;
    if (!/^[0-7]+$/.test(digits)) return null;
  } else if (!/^[0-9]+$/.test(digits)) return null;
  const n = Number.parseInt(digits, radix);
  // Leading zeros in a long hex/octal string are legal but must not overflow the check below.
  return Number.isSafeInteger(n) ? n : Number.POSITIVE_INFINITY;
}

/** inet_aton: 1–4 dot-separated parts, the last filling the remaining bytes. */
export function parseIpv4(s: string): IpAddress | null {
  const parts = s.split(".");
  if (parts.length > 4) return null;
  const nums: number[] = [];
  for (const p of parts) {
    const n = parseAtonPart(p);
    if (n === null) return null;
    nums.push(n);
  }
  const last = nums.pop()!;
  for (const n of nums) if (n > 255) return null;
  const lastBytes = 4 - nums.length;
  if (last >= 2 ** (8 * lastBytes)) return null;
  const bytes = new Uint8Array(4);
  nums.forEach((n, i) => {
    bytes[i] = n;
  });
  for (let i = 0; i < lastBytes; i++) bytes[3 - i] = Math.floor(last / 2 ** (8 * i)) & 0xff;
  return { family: 4, bytes };
}

/** Strict dotted quad only (used inside IPv6 text, where inet_aton forms are not allowed). */
function parseDottedQuad(s: string): Uint8Array | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^[0-9]{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** RFC 4291 §2.2 text forms, including "::" and a trailing dotted quad. No zone ids. */
export function parseIpv6(s: string): IpAddress | null {
  if (s.length < 2 || s.length > 45 || s.includes("%")) return null;
  let tail: Uint8Array | null = null;
  let text = s;
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    tail = parseDottedQuad(text.slice(lastColon + 1));
    if (!tail) return null;
    // Keep the colon so "::1.2.3.4" still splits around "::".
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (h: string): number[] | null => {
    if (h === "") return [];
    const out: number[] = [];
    for (const g of h.split(":")) {
      if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !rest) return null;
  let all: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - rest.length;
    if (fill < 1) return null;
    all = [...head, ...new Array<number>(fill).fill(0), ...rest];
  } else {
    all = head;
  }
  if (all.length !== 8) return null;
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  if (tail) bytes.set(tail, 12);
  return { family: 6, bytes };
}

/** An address literal in any spelling, brackets allowed for IPv6; null if `s` is not one. */
export function parseIpLiteral(s: string): IpAddress | null {
  if (s.startsWith("[") && s.endsWith("]")) return parseIpv6(s.slice(1, -1));
  if (s.includes(":")) return parseIpv6(s);
  return parseIpv4(s);
}

/**
 * True when `s` would be taken as a number by a resolver (WHATWG URL's "ends in a number" rule): such a
 * host must parse as IPv4 or be rejected, never sent to DNS.
 */
export function looksNumeric(s: string): boolean {
  const labels = s.split(".");
  let last = labels[labels.length - 1]!;
  if (last === "" && labels.length > 1) last = labels[labels.length - 2]!;
  return /^[0-9]+$/.test(last) || /^0x[0-9a-f]*$/i.test(last);
}

export function formatIp(a: IpAddress): string {
  if (a.family === 4) return Array.from(a.bytes).join(".");
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((a.bytes[i]! << 8) | a.bytes[i + 1]!).toString(16));
  // Compress the longest zero run (RFC 5952) so logs and connect() see the canonical form.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === "0") j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return g.join(":");
  return `${g.slice(0, best).join(":")}::${g.slice(best + bestLen).join(":")}`;
}

export function parseCidr(s: string): Cidr | null {
  const slash = s.indexOf("/");
  const addr = parseIpLiteral(slash < 0 ? s : s.slice(0, slash));
  if (!addr) return null;
  const max = addr.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(p)) return null;
    prefix = Number(p);
    if (prefix > max) return null;
  }
  return { family: addr.family, bytes: addr.bytes, prefix };
}

export function cidrContains(c: Cidr, a: IpAddress): boolean {
  if (c.family !== a.family) return false;
  let bits = c.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((c.bytes[i]! & mask) !== (a.bytes[i]! & mask)) return false;
  }
  return true;
}

export function cidr(s: string): Cidr {
  const c = parseCidr(s);
  if (!c) throw new Error(`bad CIDR ${s}`);
  return c;
}
