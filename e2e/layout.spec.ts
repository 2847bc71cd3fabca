// The page's layout stability (issue 8): no layout jumps while the guest boots and runs (layout-shift.ts).

import { BOOT_TIMEOUT_MS, COMMAND_TIMEOUT_MS, test } from "./fixtures.ts";
import { CLS_LIMIT, layoutShifts } from "./layout-shift.ts";

test(`no layout jumps at 1280×720 while the guest boots and runs with the panels live (CLS < ${CLS_LIMIT})`, async ({
  context,
  url,
}, testInfo) => {
  const cls = await layoutShifts(url, context, BOOT_TIMEOUT_MS, COMMAND_TIMEOUT_MS);
  testInfo.annotations.push({ type: "CLS", description: `${cls.value.toFixed(4)} over ${cls.shifts.length} shift(s)` });
  if (!(cls.value < CLS_LIMIT)) {
    const worst = [...cls.shifts]
      .sort((a, b) => b.value - a.value)
      .slice(0, 4)
      .map((sh) => `${sh.value.toFixed(4)} at ${sh.at} ms: ${sh.sources.join(", ")}`)
      .join("; ");
    throw new Error(`CLS ${cls.value.toFixed(4)}; worst: ${worst}`);
  }
});
