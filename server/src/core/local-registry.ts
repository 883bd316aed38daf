import { roomTopic, userTopic, type Bus } from './bus.ts';
import type { Connection } from './connection.ts';

/**
 * This node's connections by room and by user, and the bus subscriptions that follow them: a topic
 * is subscribed while at least one local connection needs it.
 */
export class LocalRegistry {
  readonly byRoom = new Map<string, Set<Connection>>();
  readonly byUser = new Map<string, Set<Connection>>();
  readonly all = new Set<Connection>();

  constructor(private readonly bus: Bus) {}

  async addToRoom(roomid: string, conn: Connection): Promise<void> {
    if (await add(this.byRoom, roomid, conn)) await this.bus.subscribe(roomTopic(roomid));
  }

  async removeFromRoom(roomid: string, conn: Connection): Promise<void> {
    if (remove(this.byRoom, roomid, conn)) await this.bus.unsubscribe(roomTopic(roomid));
  }

  async addUser(uid: string, conn: Connection): Promise<void> {
    if (await add(this.byUser, uid, conn)) await this.bus.subscribe(userTopic(uid));
  }

  async removeUser(uid: string, conn: Connection): Promise<void> {
    if (remove(this.byUser, uid, conn)) await this.bus.unsubscribe(userTopic(uid));
  }
}

/** Returns true when the key is new. */
async function add(map: Map<string, Set<Connection>>, key: string, conn: Connection): Promise<boolean> {
  const set = map.get(key);
  if (set) {
    set.add(conn);
    return false;
  }
  map.set(key, new Set([conn]));
  return true;
}

/** Returns true when the key became empty. */
function remove(map: Map<string, Set<Connection>>, key: string, conn: Connection): boolean {
  const set = map.get(key);
  if (!set || !set.delete(conn)) return false;
  if (set.size > 0) return false;
  map.delete(key);
  return true;
}
