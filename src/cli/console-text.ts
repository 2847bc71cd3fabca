/**
 * Reading the guest's console as text: what a test or `--exec` looks at to find the shell prompt.
 */

/** Matches the guest shell prompt at the very end of the console output (guest/ sets PS1). */
export const PROMPT_RE = /vireo:[^#\n]*# $/;

/**
 * Terminal control sequences (CSI) are not text: busybox's line editor follows its prompt with
 * ESC [ 6 n (a cursor-position query).
 */
const CSI_RE = new RegExp(`${String.fromCharCode(0x1b)}\\[[0-9;?]*[ -/]*[@-~]`, "g");

/**
 * Kernel log lines ("[    3.452234] IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready") print
 * whenever the kernel has something to say — also right after the shell's prompt, which then no longer
 * ends the output. A line in progress at the end of the text counts too.
 */
const KMSG_RE = /\[ *\d+\.\d+\] [^\r\n]*(?:\r?\n|$)/g;

/** The console output without control sequences and kernel log lines. */
export function consoleText(raw: string): string {
  return raw.replace(CSI_RE, "").replace(KMSG_RE, "");
}
