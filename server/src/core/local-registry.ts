import type { Bus } from './bus.ts';
import type { Session } from './session.ts';
import { roomTopic, userTopic } from './topics.ts';

/**
 * This node's sessions by room and by user, and the bus subscriptions that follow them: a topic is
 * subscribed while at least one local session needs it.
 */
export class LocalRegistry<P = unknown> {
  readonly byRoom = new Map<string, Set<Session<P>>>();
  readonly byUser = new Map<string, Set<Session<P>>>();
  readonly all = new Set<Session<P>>();

  constructor(private readonly bus: Bus) {}

  async addToRoom(roomid: string, session: Session<P>): Promise<void> {
    if (add(this.byRoom, roomid, session)) await this.bus.subscribe(roomTopic(roomid));
  }

  async removeFromRoom(roomid: string, session: Session<P>): Promise<void> {
    if (remove(this.byRoom, roomid, session)) await this.bus.unsubscribe(roomTopic(roomid));
  }

  async addUser(uid: string, session: Session<P>): Promise<void> {
    if (add(this.byUser, uid, session)) await this.bus.subscribe(userTopic(uid));
  }

  async removeUser(uid: string, session: Session<P>): Promise<void> {
    if (remove(this.byUser, uid, session)) await this.bus.unsubscribe(userTopic(uid));
  }
}

/** Returns true when the key is new. */
function add<P>(map: Map<string, Set<Session<P>>>, key: string, session: Session<P>): boolean {
  const set = map.get(key);
  if (set) {
    set.add(session);
    return false;
  }
  map.set(key, new Set([session]));
  return true;
}

/** Returns true when the key became empty. */
function remove<P>(map: Map<string, Set<Session<P>>>, key: string, session: Session<P>): boolean {
  const set = map.get(key);
  if (!set || !set.delete(session)) return false;
  if (set.size > 0) return false;
  map.delete(key);
  return true;
}
