/**
 * Deno's file and timer APIs the Deno platform uses (deno/platform.ts), declared for `tsc`, which
 * builds with Node's types. Deno itself never reads this file: it has the real declarations built in.
 */

declare namespace Deno {
  namespace errors {
    class NotFound extends Error {}
    class PermissionDenied extends Error {}
  }

  interface FileInfo {
    size: number;
    mtime: Date | null;
  }

  interface FsFile {
    write(data: Uint8Array): Promise<number>;
    sync(): Promise<void>;
    close(): void;
  }

  interface OpenOptions {
    write?: boolean;
    create?: boolean;
    truncate?: boolean;
    mode?: number;
  }

  const pid: number;
  function readTextFile(path: string | URL): Promise<string>;
  function stat(path: string | URL): Promise<FileInfo>;
  function mkdir(path: string | URL, options?: { recursive?: boolean }): Promise<void>;
  function open(path: string | URL, options?: OpenOptions): Promise<FsFile>;
  function rename(from: string | URL, to: string | URL): Promise<void>;
  function unrefTimer(id: number | ReturnType<typeof setInterval>): void;
}
