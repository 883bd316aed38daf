/** The Platform on Deno: Deno's own file APIs. */

import { FileError, type Platform } from '../platform.ts';

function fileError(path: string, err: unknown): FileError {
  const reason = err instanceof Deno.errors.NotFound ? 'missing' : err instanceof Deno.errors.PermissionDenied ? 'denied' : 'other';
  return new FileError(reason, path, (err as Error).message);
}

export const denoPlatform: Platform = {
  runtime: 'deno',
  async readTextFile(path) {
    try {
      return await Deno.readTextFile(path);
    } catch (err) {
      throw fileError(path, err);
    }
  },
  async readFile(path) {
    try {
      return await Deno.readFile(path);
    } catch {
      return undefined;
    }
  },
  async fileExists(path) {
    try {
      await Deno.stat(path);
      return true;
    } catch {
      return false;
    }
  },
  async mkdir(path) {
    await Deno.mkdir(path, { recursive: true });
  },
  async writeFileAtomic(path, data, mode) {
    const temporary = `${path}.${Deno.pid}.tmp`;
    const file = await Deno.open(temporary, { write: true, create: true, truncate: true, mode });
    try {
      let written = 0;
      while (written < data.length) written += await file.write(data.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temporary, path);
  },
  async rename(from, to) {
    await Deno.rename(from, to);
  },
  watchFiles(paths, intervalMs, onChange) {
    const seen = new Map<string, string>();
    const stamp = async (path: string): Promise<string> => {
      try {
        const info = await Deno.stat(path);
        return `${info.mtime?.getTime() ?? 0}:${info.size}`;
      } catch {
        return 'absent';
      }
    };
    void Promise.all(paths.map(async (path) => seen.set(path, await stamp(path))));
    const timer = setInterval(async () => {
      let changed = false;
      for (const path of paths) {
        const now = await stamp(path);
        if (seen.get(path) !== now) changed = true;
        seen.set(path, now);
      }
      if (changed) onChange();
    }, intervalMs);
    Deno.unrefTimer(timer);
    return () => clearInterval(timer);
  },
};
