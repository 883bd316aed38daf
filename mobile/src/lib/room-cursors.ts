import type { KeyValueStorage } from './storage';
import type { RoomSubscription, SavedCursor } from './room-subscription';

const CURSORS_KEY = 'chat.cursors';
const EPOCHS_KEY = 'chat.epochs';

/** Every room's cursor and epoch in storage, so a relaunched app resumes where it stopped. */
export class CursorStore {
  constructor(private readonly storage: KeyValueStorage) {}

  load(): Map<string, SavedCursor> {
    const seqs = this.storage.get<Record<string, number>>(CURSORS_KEY) ?? {};
    const epochs = this.storage.get<Record<string, string>>(EPOCHS_KEY) ?? {};
    const saved = new Map<string, SavedCursor>();
    for (const roomid of new Set([...Object.keys(seqs), ...Object.keys(epochs)])) {
      saved.set(roomid, { since: seqs[roomid], epoch: epochs[roomid] });
    }
    return saved;
  }

  save(subscriptions: Iterable<RoomSubscription>): void {
    const seqs: Record<string, number> = {};
    const epochs: Record<string, string> = {};
    for (const sub of subscriptions) {
      const { since, epoch } = sub.saved();
      if (since !== undefined) seqs[sub.roomid] = since;
      if (epoch !== undefined) epochs[sub.roomid] = epoch;
    }
    this.storage.set(CURSORS_KEY, seqs);
    this.storage.set(EPOCHS_KEY, epochs);
  }
}
