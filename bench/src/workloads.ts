/**
 * The loads `bench:compare` runs each server through. One large room is where write coalescing shines (every
 * message fans out to many sockets); most traffic of a chat product is the other kind: family and team groups
 * of a few people and direct chats of two, where a socket gets a frame now and then and nothing can be
 * coalesced.
 *
 *   room<N>    one room of N members, `publishers` of them publishing (default 10): room100, room1000
 *   rooms<K>   `smallMembers` members (default 10,000) in rooms of K, one publisher per room: rooms10
 *   dm         `smallMembers` / 2 direct-message pairs, one publisher per pair; a message is delivered to the
 *              partner and back to the sender (two deliveries)
 */

export interface Workload {
  id: string;
  /** For tables and the plot: "1,000 rooms of 10 (10,000 members)". */
  label: string;
  members: number;
  rooms: number;
  publishers: number;
  direct: boolean;
  /** Deliveries per message: the room's size, or 2 for a direct message. */
  perMessage: number;
  /** Where the search for the sustainable rate starts (a step far above it leaves seconds of backlog). */
  startDeliveries: number;
}

export const DEFAULT_WORKLOADS = ['room100', 'room1000', 'rooms10', 'dm'];

const n = (x: number) => x.toLocaleString('en-US');

export function workloadByName(name: string, opts: { publishers: number; smallMembers: number }): Workload {
  const room = /^room(\d+)$/.exec(name);
  if (room) {
    const members = Number(room[1]);
    return {
      id: name,
      label: `one room of ${n(members)}`,
      members,
      rooms: 1,
      publishers: Math.min(opts.publishers, members),
      direct: false,
      perMessage: members,
      startDeliveries: 50_000,
    };
  }
  const rooms = /^rooms(\d+)$/.exec(name);
  if (rooms) {
    const size = Number(rooms[1]);
    const count = Math.floor(opts.smallMembers / size);
    if (size < 2 || count < 1) throw new Error(`${name}: rooms of ${size} out of ${opts.smallMembers} members`);
    return {
      id: name,
      label: `${n(count)} rooms of ${size} (${n(count * size)} members)`,
      members: count * size,
      rooms: count,
      publishers: count,
      direct: false,
      perMessage: size,
      startDeliveries: 10_000,
    };
  }
  if (name === 'dm') {
    const pairs = Math.floor(opts.smallMembers / 2);
    return {
      id: name,
      label: `${n(pairs)} direct-message pairs`,
      members: pairs * 2,
      rooms: pairs,
      publishers: pairs,
      direct: true,
      perMessage: 2,
      startDeliveries: 10_000,
    };
  }
  throw new Error(`unknown workload "${name}" (room<N>, rooms<K>, dm)`);
}

/** Whether a server speaking `protocol` can run it: the course's naive server has one room for everyone. */
export function runsOn(w: Workload, protocol: string): boolean {
  return protocol !== 'course' || (w.rooms === 1 && !w.direct);
}
