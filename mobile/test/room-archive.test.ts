import type { ChatMessage } from '@chatroom/server/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ArchiveLimits, RoomArchive } from '../src/lib/room-archive';
import { MemoryStorage, utf8Length } from '../src/lib/storage';

const LIMITS: ArchiveLimits = { tailMessages: 5, keyBytes: 2_000, totalBytes: 5_000, minTailMessages: 2, flushDelayMs: 1_000 };

function message(roomid: string, seq: number, text = `m${seq}`, ts = seq): ChatMessage {
  return {
    event: 'message' as ChatMessage['event'],
    id: `${roomid}-${seq}`,
    roomid,
    seq,
    ts,
    uid: 'u1',
    name: 'n',
    message: text,
    num: 3,
    total: 4,
    replay: true,
  };
}

/** A storage that counts writes and can refuse them (full). */
class CountingStorage extends MemoryStorage {
  writes: string[] = [];
  full = false;
  override set(key: string, value: unknown): void {
    if (this.full) throw new Error('storage full');
    this.writes.push(key);
    super.set(key, value);
  }
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('room archive', () => {
  it('writes a burst as one batch, the cursor with the messages, and reads it back', async () => {
    const storage = new CountingStorage();
    const archive = new RoomArchive(storage, LIMITS);
    archive.cursorOf = () => ({ through: 3, epoch: 'e1' });
    for (let seq = 1; seq <= 3; seq++) archive.append('lobby', message('lobby', seq));
    expect(storage.writes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(storage.writes).toEqual(['room.lobby', 'rooms']);
    const again = new RoomArchive(storage, LIMITS);
    expect(again.record('lobby')).toMatchObject({ through: 3, epoch: 'e1', readSeq: 0, unread: 0 });
    // Only what the pages show is kept: no wire-only fields.
    expect(again.record('lobby').messages).toEqual([1, 2, 3].map((seq) => ({ id: `lobby-${seq}`, seq, ts: seq, uid: 'u1', name: 'n', message: `m${seq}` })));
  });

  it('keeps the newest messages in seq order, and no older one than a full tail holds', () => {
    const archive = new RoomArchive(new MemoryStorage(), LIMITS);
    for (const seq of [3, 1, 2, 7, 6, 5, 4]) archive.append('r', message('r', seq));
    expect(archive.record('r').messages.map((m) => m.seq)).toEqual([3, 4, 5, 6, 7]);
    archive.append('r', message('r', 2));
    expect(archive.record('r').messages.map((m) => m.seq)).toEqual([3, 4, 5, 6, 7]);
  });

  it('a key over its byte limit loses its oldest messages', () => {
    const storage = new MemoryStorage();
    const archive = new RoomArchive(storage, { ...LIMITS, keyBytes: 1_000 });
    // 300 three-byte characters: 900 bytes a message in UTF-8.
    for (let seq = 1; seq <= 3; seq++) archive.append('r', message('r', seq, '字'.repeat(300)));
    archive.flush();
    const saved = storage.get<{ messages: Array<{ seq: number }> }>('room.r')!;
    expect(saved.messages.map((m) => m.seq)).toEqual([3]);
    expect(utf8Length(JSON.stringify(saved))).toBeLessThanOrEqual(1_000);
  });

  it('over the total, the least recently active rooms are trimmed first, to the minimum tail', () => {
    const storage = new MemoryStorage();
    const archive = new RoomArchive(storage, LIMITS);
    // Four rooms of five ~400-byte messages (about 2 KB each): over 5 KB in all.
    for (const [i, roomid] of ['old', 'older', 'new', 'newest'].entries()) {
      const at = { old: 100, older: 50, new: 200, newest: 300 }[roomid]!;
      for (let seq = 1; seq <= 5; seq++) archive.append(roomid, message(roomid, seq, 'x'.repeat(300 + i), at + seq));
    }
    archive.flush();
    const tail = (roomid: string) => storage.get<{ messages: unknown[] }>(`room.${roomid}`)!.messages.length;
    expect(tail('older')).toBe(2);
    expect(tail('newest')).toBe(5);
    const index = storage.get<Record<string, { bytes: number }>>('rooms')!;
    expect(Object.values(index).reduce((sum, e) => sum + e.bytes, 0)).toBeLessThanOrEqual(5_000);
  });

  it('storage full: what does not fit is written with the next batch instead of being lost', async () => {
    const storage = new CountingStorage();
    const archive = new RoomArchive(storage, LIMITS);
    archive.append('r', message('r', 1));
    storage.full = true;
    archive.flush();
    expect(storage.get('room.r')).toBeUndefined();
    storage.full = false;
    archive.append('r', message('r', 2));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(storage.get<{ messages: unknown[] }>('room.r')!.messages).toHaveLength(2);
  });
});
