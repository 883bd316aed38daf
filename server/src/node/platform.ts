/** The Platform on Node: node:fs. */

import { existsSync, unwatchFile, watchFile } from 'node:fs';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { FileError, type Platform } from '../platform.ts';

function fileError(path: string, err: unknown): FileError {
  const code = (err as NodeJS.ErrnoException).code;
  return new FileError(code === 'ENOENT' ? 'missing' : code === 'EACCES' || code === 'EPERM' ? 'denied' : 'other', path, (err as Error).message);
}

export const nodePlatform: Platform = {
  runtime: 'node',
  async readTextFile(path) {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      throw fileError(path, err);
    }
  },
  async readFile(path) {
    try {
      return await readFile(path);
    } catch {
      return undefined;
    }
  },
  async fileExists(path) {
    return existsSync(path);
  },
  async mkdir(path) {
    await mkdir(path, { recursive: true });
  },
  async writeFileAtomic(path, data, mode) {
    const temporary = `${path}.${process.pid}.tmp`;
    const file = await open(temporary, 'w', mode);
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  },
  async rename(from, to) {
    await rename(from, to);
  },
  // Polling stat: certificate renewals replace symlinks, which fs.watch misses.
  watchFiles(paths, intervalMs, onChange) {
    const listener = (): void => onChange();
    for (const path of paths) watchFile(path, { interval: intervalMs, persistent: false }, listener);
    return () => {
      for (const path of paths) unwatchFile(path, listener);
    };
  },
};
