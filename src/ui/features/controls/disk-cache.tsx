// The page's lasting cache of disk ranges (src/worker/disk-cache.ts), in the image popover: how much it
// holds, and a button that clears it. Read again each time the popover opens.

import { useEffect, useRef, useState } from "react";
import { clearDiskCache, DISK_CACHE_LIMIT, diskCacheUsage } from "../../../worker/disk-cache.ts";

function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

export function DiskCache() {
  const [bytes, setBytes] = useState<number | undefined>(undefined);
  const [note, setNote] = useState<string | undefined>(undefined);
  const ref = useRef<HTMLParagraphElement>(null);
  useEffect(() => {
    const refresh = (): void => {
      void diskCacheUsage().then((u) => setBytes(u.bytes));
    };
    refresh();
    const details = ref.current?.closest("details");
    details?.addEventListener("toggle", refresh);
    return () => details?.removeEventListener("toggle", refresh);
  }, []);
  const clear = (): void => {
    setNote("clearing…");
    clearDiskCache().then(
      () => {
        setNote(undefined);
        setBytes(0);
      },
      (e: unknown) => setNote(`not cleared: ${e instanceof Error ? e.message : String(e)}`),
    );
  };
  return (
    <p
      className="hint disk-cache"
      ref={ref}
      data-bytes={bytes}
      title={`disk ranges fetched from URLs are kept in this browser (at most ${mib(DISK_CACHE_LIMIT)} MiB) and read from here at the next load, unless the image changed on the server`}
    >
      cached disk ranges: {bytes === undefined ? "…" : `${mib(bytes)} MiB`}{" "}
      <button type="button" onClick={clear} disabled={bytes === 0}>
        Clear
      </button>
      {note !== undefined && <span className="picked">{note}</span>}
    </p>
  );
}
