/**
 * Embedded-mode persistence: on graceful shutdown the memory store is written to SNAPSHOT_PATH and
 * loaded on the next start, so a restart loses no offline message.
 *
 * The file is a header line `{"format":"chatroom-snapshot","version":1,"bytes":N,"sha256":"…"}` and
 * the JSON body. It is written to a temporary file, fsynced and renamed, so a crash mid-write leaves
 * the previous snapshot intact; a torn or altered file fails the length or hash check and is moved
 * aside, never half-loaded.
 */

import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from './core/logger.ts';
import type { MemorySnapshot, MemoryStore } from './core/memory-store.ts';

const FORMAT = 'chatroom-snapshot';

export class SnapshotError extends Error {}

export async function writeSnapshot(path: string, snapshot: MemorySnapshot): Promise<number> {
  const body = Buffer.from(JSON.stringify(snapshot), 'utf8');
  const header = JSON.stringify({ format: FORMAT, version: snapshot.version, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  const file = await open(temporary, 'w', 0o600);
  try {
    await file.writeFile(Buffer.concat([Buffer.from(`${header}\n`), body]));
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, path);
  return body.length;
}

export function parseSnapshot(raw: Buffer): MemorySnapshot {
  const newline = raw.indexOf(0x0a);
  if (newline < 0) throw new SnapshotError('no header line');
  let header: { format?: unknown; version?: unknown; bytes?: unknown; sha256?: unknown };
  try {
    header = JSON.parse(raw.subarray(0, newline).toString('utf8'));
  } catch {
    throw new SnapshotError('header is not JSON');
  }
  if (header.format !== FORMAT || header.version !== 1) throw new SnapshotError(`unknown format ${String(header.format)} v${String(header.version)}`);
  const body = raw.subarray(newline + 1);
  if (body.length !== header.bytes) throw new SnapshotError(`torn: ${body.length} bytes of ${String(header.bytes)}`);
  if (createHash('sha256').update(body).digest('hex') !== header.sha256) throw new SnapshotError('checksum mismatch');
  const snapshot = JSON.parse(body.toString('utf8')) as MemorySnapshot;
  if (snapshot.version !== 1 || typeof snapshot.epoch !== 'string' || !Array.isArray(snapshot.rooms) || !Array.isArray(snapshot.users) || !Array.isArray(snapshot.accepted) || !Array.isArray(snapshot.evictedSeqs)) {
    throw new SnapshotError('body does not have the snapshot shape');
  }
  return snapshot;
}

/** Loads the snapshot when there is one. An unusable file is reported and moved aside. */
export async function loadSnapshot(path: string, store: MemoryStore, logger: Logger): Promise<void> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    const snapshot = parseSnapshot(raw);
    store.restore(snapshot);
    logger.info('snapshot loaded', { path, rooms: snapshot.rooms.length, users: snapshot.users.length, takenAt: new Date(snapshot.takenAt).toISOString() });
  } catch (err) {
    const aside = `${path}.corrupt-${Date.now()}`;
    await rename(path, aside);
    logger.error('snapshot unusable; starting with empty state', { path, movedTo: aside, reason: (err as Error).message });
  }
}

export async function saveSnapshot(path: string, store: MemoryStore, logger: Logger): Promise<void> {
  try {
    const bytes = await writeSnapshot(path, store.snapshot());
    logger.info('snapshot written', { path, bytes });
  } catch (err) {
    logger.error('snapshot not written', { path, reason: (err as Error).message });
  }
}
