/**
 * What the server needs from its runtime besides sockets and HTTP: files (certificates, secrets,
 * the snapshot, the H5 build) and watching them. node/platform.ts and deno/platform.ts implement it
 * with each runtime's own APIs; everything else imports only this interface.
 */

export interface Platform {
  readonly runtime: 'node' | 'deno';
  /** Rejects with a FileError. */
  readTextFile(path: string): Promise<string>;
  /** The file's bytes, or undefined when it cannot be read (the H5 build's files). */
  readFile(path: string): Promise<Uint8Array | undefined>;
  fileExists(path: string): Promise<boolean>;
  mkdir(path: string): Promise<void>;
  /** Writes a temporary file beside `path`, flushes it to disk and renames it over `path`. */
  writeFileAtomic(path: string, data: Uint8Array, mode: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Polls the files every `intervalMs` and calls `onChange` when one changed. Returns a stop function. */
  watchFiles(paths: string[], intervalMs: number, onChange: () => void): () => void;
}

/** Why a file could not be read, in the same words on every runtime. */
export class FileError extends Error {
  constructor(
    readonly reason: 'missing' | 'denied' | 'other',
    readonly path: string,
    detail: string,
  ) {
    super(reason === 'missing' ? 'no such file' : reason === 'denied' ? 'permission denied' : detail);
    this.name = 'FileError';
  }
}

/** The directory part of a path. */
export function dirOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? (slash === 0 ? '/' : '.') : path.slice(0, slash);
}

export function joinPath(dir: string, file: string): string {
  return dir.endsWith('/') ? dir + file : `${dir}/${file}`;
}
