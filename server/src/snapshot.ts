/**
 * Embedded-mode persistence: on graceful shutdown the memory store is written to SNAPSHOT_PATH and
 * loaded on the next start, so a restart loses no offline message.
 *
 * The file is a header line `{"format":"chatroom-snapshot","version":N,"bytes":N,"sha256":"…"}` and
 * the JSON body. It is written to a temporary file, flushed and renamed, so a crash mid-write leaves
 * the previous snapshot intact; a torn or altered file fails the length or hash check and is moved
 * aside, never half-loaded. Older versions are converted: 1 (before the byte-bounded store) and
 * 2 (before groups: each room's earliest member becomes its owner).
 */

import type { Logger } from './core/logger.ts';
import type { GroupSnapshot } from './core/memory-group.ts';
import type { MemorySnapshot, MemoryStore } from './core/memory-store.ts';
import type { StoredMessage } from './core/room-log.ts';
import { dirOf, FileError, type Platform } from './platform.ts';
import { isDirectRoomId } from './protocol.ts';

const FORMAT = 'chatroom-snapshot';

export class SnapshotError extends Error {}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  // A copy on a plain ArrayBuffer: WebCrypto's types refuse a view that might be shared.
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(bytes)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function writeSnapshot(platform: Platform, path: string, snapshot: MemorySnapshot): Promise<number> {
  const encoder = new TextEncoder();
  const body = encoder.encode(JSON.stringify(snapshot));
  const header = encoder.encode(`${JSON.stringify({ format: FORMAT, version: snapshot.version, bytes: body.length, sha256: await sha256Hex(body) })}\n`);
  const file = new Uint8Array(header.length + body.length);
  file.set(header);
  file.set(body, header.length);
  await platform.mkdir(dirOf(path));
  await platform.writeFileAtomic(path, file, 0o600);
  return body.length;
}

/** The snapshot of version 1: an epoch for the whole store, rooms without one. */
interface SnapshotV1 {
  version: 1;
  takenAt: number;
  epoch: string;
  rooms: Array<{ id: string; seq: number; history: StoredMessage[]; members: Array<[string, string, number | null]> }>;
  users: Array<{ uid: string; name: string; rooms: string[]; inbox: StoredMessage[]; inboxGap: boolean }>;
}

/** The snapshot of version 2: rooms without group state (roles, bans, profile). */
interface SnapshotV2 {
  version: 2;
  takenAt: number;
  rooms: Array<Omit<MemorySnapshot['rooms'][number], 'group'>>;
  users: MemorySnapshot['users'];
}

function fromV1(snapshot: SnapshotV1): SnapshotV2 {
  return { version: 2, takenAt: snapshot.takenAt, users: snapshot.users, rooms: snapshot.rooms.map((room) => ({ ...room, epoch: snapshot.epoch })) };
}

/** Rooms from before groups are open; the member who joined first (members are kept in join order) owns one. */
function fromV2(snapshot: SnapshotV2): MemorySnapshot {
  const rooms = snapshot.rooms.map((room) => {
    const group: GroupSnapshot = { roles: [], mutes: [], bans: [], links: [] };
    const first = room.members[0];
    if (first && !isDirectRoomId(room.id)) group.roles.push([first[0], 'owner']);
    return { ...room, group };
  });
  return { version: 3, takenAt: snapshot.takenAt, users: snapshot.users, rooms };
}

export async function parseSnapshot(raw: Uint8Array): Promise<MemorySnapshot> {
  const newline = raw.indexOf(0x0a);
  if (newline < 0) throw new SnapshotError('no header line');
  const decoder = new TextDecoder();
  let header: { format?: unknown; version?: unknown; bytes?: unknown; sha256?: unknown };
  try {
    header = JSON.parse(decoder.decode(raw.subarray(0, newline)));
  } catch {
    throw new SnapshotError('header is not JSON');
  }
  if (header.format !== FORMAT || ![1, 2, 3].includes(header.version as number))
    throw new SnapshotError(`unknown format ${String(header.format)} v${String(header.version)}`);
  const body = raw.subarray(newline + 1);
  if (body.length !== header.bytes) throw new SnapshotError(`torn: ${body.length} bytes of ${String(header.bytes)}`);
  if ((await sha256Hex(body)) !== header.sha256) throw new SnapshotError('checksum mismatch');
  const snapshot = JSON.parse(decoder.decode(body)) as MemorySnapshot | SnapshotV2 | SnapshotV1;
  if (!Array.isArray(snapshot.rooms) || !Array.isArray(snapshot.users)) throw new SnapshotError('body does not have the snapshot shape');
  if (snapshot.version === 1) return fromV2(fromV1(snapshot));
  if (snapshot.version === 2) return fromV2(snapshot);
  if (snapshot.version !== 3) throw new SnapshotError('body does not have the snapshot shape');
  return snapshot;
}

/** Loads the snapshot when there is one. An unusable file is reported and moved aside. */
export async function loadSnapshot(platform: Platform, path: string, store: MemoryStore, logger: Logger): Promise<void> {
  if (!(await platform.fileExists(path))) return;
  const raw = await platform.readFile(path);
  if (raw === undefined) throw new FileError('other', path, `cannot read the snapshot ${path}`);
  try {
    const snapshot = await parseSnapshot(raw);
    store.restore(snapshot);
    logger.info('snapshot loaded', { path, rooms: snapshot.rooms.length, users: snapshot.users.length, takenAt: new Date(snapshot.takenAt).toISOString() });
  } catch (err) {
    const aside = `${path}.corrupt-${Date.now()}`;
    await platform.rename(path, aside);
    logger.error('snapshot unusable; starting with empty state', { path, movedTo: aside, reason: (err as Error).message });
  }
}

export async function saveSnapshot(platform: Platform, path: string, store: MemoryStore, logger: Logger): Promise<void> {
  try {
    const bytes = await writeSnapshot(platform, path, store.snapshot());
    logger.info('snapshot written', { path, bytes });
  } catch (err) {
    logger.error('snapshot not written', { path, reason: (err as Error).message });
  }
}
