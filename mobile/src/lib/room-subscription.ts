import { isDirectRoom } from './direct-room';
import { SeqCursor } from './seq-cursor';

/**
 * A room's life on the current socket: `unsubscribed` (known, not joined on this socket),
 * `joining` (a join is in flight), `joined` (live messages arrive and can be sent), `left` (the user
 * left it, here or on another device; the object is dropped). Direct chats need no join: they are
 * `joined` as soon as the socket is authenticated.
 */
export type SubscriptionState = 'unsubscribed' | 'joining' | 'joined' | 'left';

const TRANSITIONS: Record<SubscriptionState, readonly SubscriptionState[]> = {
  unsubscribed: ['joining', 'joined', 'left'],
  // joining -> joining: joined again from seq 0 after the server's seqs started over.
  joining: ['joining', 'joined', 'unsubscribed', 'left'],
  // joined -> joining: the server no longer counts this socket in the room (error 4404).
  joined: ['joining', 'unsubscribed', 'left'],
  left: [],
};

/** What a history request of this room is for. */
export type HistoryPurpose =
  /** Scrolling up: older than what the timeline holds; never new, never unread. */
  | 'older'
  /** Catching up after `through`: new messages, page after page until the room's last seq. */
  | 'forward'
  /** A direct chat this device never saw: its newest page, read elsewhere, so not unread. */
  | 'latest';

export interface SavedCursor {
  through?: number;
  epoch?: string;
  /** Ids of the messages the phone holds, so they are not taken for new ones. */
  ids?: Iterable<string>;
}

/** One room or direct chat: its state on the socket, its cursor and epoch, its requests in flight. */
export class RoomSubscription {
  readonly direct: boolean;
  readonly cursor: SeqCursor;
  /** The server epoch the cursor's seqs belong to (`joined.epoch`). */
  epoch: string | undefined;
  /** The id of the join in flight: only its `joined` counts. */
  joinRef: string | undefined;
  /** This room's history requests in flight, by id. */
  readonly pending = new Map<string, HistoryPurpose>();
  /** Joined again from seq 0 on this socket because the server's seqs started over. */
  resynced = false;
  /** An older page asked for before the room was joined on this socket: asked once it is. */
  afterJoin: { before?: number; limit: number } | undefined;
  private current: SubscriptionState = 'unsubscribed';

  constructor(
    readonly roomid: string,
    saved: SavedCursor = {},
  ) {
    this.direct = isDirectRoom(roomid);
    this.cursor = new SeqCursor(saved.through, saved.ids);
    this.epoch = saved.epoch;
  }

  get state(): SubscriptionState {
    return this.current;
  }

  /** The one place the state changes; a transition the table does not allow is a bug. */
  setState(next: SubscriptionState): void {
    if (!TRANSITIONS[this.current].includes(next)) {
      throw new Error(`invalid subscription transition for ${this.roomid}: ${this.current} -> ${next}`);
    }
    this.current = next;
    if (next !== 'joining') this.joinRef = undefined;
    if (next === 'unsubscribed' || next === 'left') {
      this.pending.clear();
      this.resynced = false;
    }
    if (next === 'left') this.afterJoin = undefined;
  }

  /** Joins (or joins again) with request `ref`. */
  joining(ref: string): void {
    this.setState('joining');
    this.joinRef = ref;
  }

  /** The socket is gone: everything in flight on it is void. */
  socketLost(): void {
    if (this.current === 'joining' || this.current === 'joined') this.setState('unsubscribed');
  }

  /** A catch-up of this room is under way on this socket. */
  get catchingUp(): boolean {
    for (const purpose of this.pending.values()) if (purpose !== 'older') return true;
    return false;
  }
}
