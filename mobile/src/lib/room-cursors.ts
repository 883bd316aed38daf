import type { KeyValueStorage } from './storage';

const STORAGE_KEY = 'chat.cursors';
const EPOCHS_KEY = 'chat.epochs';
const REMEMBERED_PER_ROOM = 500;

interface Seen {
  ids: Set<string>;
  seqs: Set<number>;
  order: Array<[string, number]>;
  /** Seqs up to this one count as seen: from an earlier run of the app, or forgotten for space. */
  floor: number;
}

/**
 * What the client has seen per room: the highest `seq` (sent back as `since` to resume) and the
 * recent ids and seqs, so a replay, a history page or a resend never shows a message twice, even
 * when they arrive out of order. The seqs persist, so a relaunched app resumes where it stopped.
 */
export class RoomCursors {
  private readonly lastSeq: Record<string, number>;
  /** The server epoch each room's seqs belong to (`joined.epoch`). */
  private readonly epochs: Record<string, string>;
  private readonly seen = new Map<string, Seen>();

  constructor(private readonly storage: KeyValueStorage) {
    this.lastSeq = storage.get<Record<string, number>>(STORAGE_KEY) ?? {};
    this.epochs = storage.get<Record<string, string>>(EPOCHS_KEY) ?? {};
  }

  epoch(roomid: string): string | undefined {
    return this.epochs[roomid];
  }

  setEpoch(roomid: string, epoch: string): void {
    if (this.epochs[roomid] === epoch) return;
    this.epochs[roomid] = epoch;
    this.storage.set(EPOCHS_KEY, this.epochs);
  }

  since(roomid: string): number | undefined {
    return this.lastSeq[roomid];
  }

  /** Records a delivered message; false when it was delivered before. */
  accept(roomid: string, id: string, seq: number): boolean {
    const seen = this.seenIn(roomid);
    if (seen.ids.has(id) || seen.seqs.has(seq) || seq <= seen.floor) return false;
    seen.ids.add(id);
    seen.seqs.add(seq);
    seen.order.push([id, seq]);
    if (seen.order.length > REMEMBERED_PER_ROOM) {
      const [oldId, oldSeq] = seen.order.shift()!;
      seen.ids.delete(oldId);
      seen.seqs.delete(oldSeq);
      seen.floor = Math.max(seen.floor, oldSeq);
    }
    const last = this.lastSeq[roomid];
    if (last === undefined || seq > last) {
      this.lastSeq[roomid] = seq;
      this.save();
    }
    return true;
  }

  /**
   * The server's seqs started over (an in-memory server restarted): forget seqs, keep ids, so the
   * new seq 1, 2... are not mistaken for messages already seen.
   */
  restart(roomid: string): void {
    this.lastSeq[roomid] = 0;
    const seen = this.seenIn(roomid);
    seen.seqs.clear();
    seen.order = seen.order.map(([id]) => [id, 0]);
    seen.floor = 0;
    this.save();
  }

  forget(roomid: string): void {
    delete this.lastSeq[roomid];
    this.seen.delete(roomid);
    this.save();
  }

  /** Rooms with a cursor (direct chats included). */
  rooms(): string[] {
    return Object.keys(this.lastSeq);
  }

  private seenIn(roomid: string): Seen {
    let seen = this.seen.get(roomid);
    if (!seen) {
      seen = { ids: new Set(), seqs: new Set(), order: [], floor: this.lastSeq[roomid] ?? 0 };
      this.seen.set(roomid, seen);
    }
    return seen;
  }

  private save(): void {
    this.storage.set(STORAGE_KEY, this.lastSeq);
  }
}
