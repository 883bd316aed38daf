/**
 * What this node has put into Redis presence: its connections, their rooms and users. Used to put it
 * back when Redis lost it (restart without persistence, or this node was wrongly reaped), and to
 * keep the node's room and user sets (what the reaper visits) to what the node still holds.
 */

export interface LocalConnection {
  uid: string;
  name: string;
  /** roomid → seq at join */
  rooms: Map<string, number>;
  userConnected: boolean;
}

export class LocalPresence {
  readonly connections = new Map<string, LocalConnection>();
  private readonly roomRefs = new Map<string, number>();
  private readonly userRefs = new Map<string, number>();

  private conn(connId: string, uid: string, name: string): LocalConnection {
    let conn = this.connections.get(connId);
    if (!conn) {
      conn = { uid, name, rooms: new Map(), userConnected: false };
      this.connections.set(connId, conn);
    }
    conn.name = name;
    return conn;
  }

  /** Returns true when the node had no connection in the room before. */
  joined(connId: string, uid: string, name: string, roomid: string, seq: number): boolean {
    const conn = this.conn(connId, uid, name);
    if (conn.rooms.has(roomid)) return false;
    conn.rooms.set(roomid, seq);
    return increment(this.roomRefs, roomid);
  }

  /** Returns true when that was the node's last connection in the room. */
  leftRoom(connId: string, roomid: string): boolean {
    const conn = this.connections.get(connId);
    if (!conn?.rooms.delete(roomid)) return false;
    this.forgetIfIdle(connId, conn);
    return decrement(this.roomRefs, roomid);
  }

  /** The user left the room: every local connection of theirs is out of it. Returns true when the node holds none. */
  userLeftRoom(uid: string, roomid: string): boolean {
    let last = false;
    for (const [connId, conn] of this.connections) {
      if (conn.uid === uid && conn.rooms.has(roomid)) last = this.leftRoom(connId, roomid) || last;
    }
    return last;
  }

  /** Returns true when the node had no connection of the user before. */
  userConnected(connId: string, uid: string, name: string): boolean {
    const conn = this.conn(connId, uid, name);
    if (conn.userConnected) return false;
    conn.userConnected = true;
    return increment(this.userRefs, uid);
  }

  /** Returns true when that was the node's last connection of the user. */
  userDisconnected(connId: string): boolean {
    const conn = this.connections.get(connId);
    if (!conn?.userConnected) return false;
    conn.userConnected = false;
    this.forgetIfIdle(connId, conn);
    return decrement(this.userRefs, conn.uid);
  }

  get rooms(): Iterable<string> {
    return this.roomRefs.keys();
  }

  get users(): Iterable<string> {
    return this.userRefs.keys();
  }

  private forgetIfIdle(connId: string, conn: LocalConnection): void {
    if (!conn.userConnected && conn.rooms.size === 0) this.connections.delete(connId);
  }
}

function increment(refs: Map<string, number>, key: string): boolean {
  const n = refs.get(key) ?? 0;
  refs.set(key, n + 1);
  return n === 0;
}

function decrement(refs: Map<string, number>, key: string): boolean {
  const n = refs.get(key);
  if (n === undefined) return false;
  if (n > 1) {
    refs.set(key, n - 1);
    return false;
  }
  refs.delete(key);
  return true;
}
