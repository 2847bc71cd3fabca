// The in-page share (?share=memory), the guest's /mnt/host: upload files into it (a picker here, or files
// dropped on the console) and download what is in it, e.g. a file the guest wrote. The files live in the
// machine's worker (MemoryShare) and outlive a reset; the listing refreshes after each upload and on demand.

import { useEffect, useRef, useState } from "react";
import { download } from "../../download.ts";
import type { MachineClient } from "../../machine-client.ts";

export function SharePanel({ client }: { client: MachineClient }) {
  const [files, setFiles] = useState<{ path: string; size: number }[] | undefined>(undefined);
  const [note, setNote] = useState<string | undefined>(undefined);
  const picker = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const off = client.on("shareFiles", setFiles);
    client.shareList();
    return off;
  }, [client]);

  const upload = async (list: FileList | null): Promise<void> => {
    if (list === null || list.length === 0) return;
    setNote(`uploading ${list.length} file(s)…`);
    await client.sharePut([...list]);
    setNote(undefined);
    if (picker.current !== null) picker.current.value = "";
  };
  const fetchFile = async (path: string): Promise<void> => {
    try {
      download(await client.shareGet(path), path.split("/").pop() ?? path);
    } catch (e) {
      setNote(`${path}: ${(e as Error).message}`);
    }
  };

  return (
    <div className="share-panel">
      <p>
        The guest's <code>/mnt/host</code> (virtio-9p, tag <code>host</code>), held in this tab. Files dropped on the
        console are uploaded here too.
      </p>
      <p className="share-actions">
        <label>
          Upload to /mnt/host{" "}
          <input
            ref={picker}
            type="file"
            multiple
            aria-label="Upload to /mnt/host"
            onChange={(e) => void upload(e.target.files)}
          />
        </label>
        <button type="button" onClick={() => client.shareList()}>
          Refresh
        </button>
      </p>
      {note !== undefined && <p className="note">{note}</p>}
      {files === undefined ? (
        <p className="empty">…</p>
      ) : files.length === 0 ? (
        <p className="empty">The share is empty.</p>
      ) : (
        <table className="share-files">
          <thead>
            <tr>
              <th>file</th>
              <th>bytes</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {files.map((f) => (
              <tr key={f.path} data-share-file={f.path}>
                <td>{f.path}</td>
                <td>{f.size}</td>
                <td>
                  <button type="button" onClick={() => void fetchFile(f.path)} aria-label={`Download ${f.path}`}>
                    Download
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
