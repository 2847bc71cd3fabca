// The parts of @mercuryworkshop/wisp-js (untyped JavaScript) the interop tests use.
declare module "@mercuryworkshop/wisp-js/client" {
  export namespace client {
    class ClientStream {
      stream_id: number;
      onopen: () => void;
      onclose: (reason: number) => void;
      onmessage: (data: Uint8Array) => void;
      send(data: Uint8Array): void;
      close(reason?: number): void;
    }
    class ClientConnection {
      constructor(url: string, options?: { wisp_version?: 1 | 2 });
      onopen: () => void;
      onclose: () => void;
      onerror: () => void;
      max_buffer_size: number | null;
      wisp_version: number;
      create_stream(hostname: string, port: number, type?: "tcp" | "udp"): ClientStream;
      close(): void;
    }
  }
}
