// The chat protocol's frames as the two no-auth peers speak it (uws-pubsub.mjs on uWebSockets.js,
// ws-pubsub.mjs on `ws`). One piece of code for both: the `ws` floor is only a floor if it does
// exactly the uWS peer's work per message, so the seq, the stamping and the JSON are made here.

/** Roomid (a room's, or a direct pair's `dm:a|b`) → its last seq. */
const seqs = new Map();

export const WELCOME = '{"event":"welcome","protocol":1,"heartbeatMs":0}';

export const joinedText = (roomid, num) => JSON.stringify({ event: 'joined', roomid, num });

function nextSeq(roomid) {
  const seq = (seqs.get(roomid) ?? 0) + 1;
  seqs.set(roomid, seq);
  return seq;
}

const ackText = (id, seq, roomid, ts) => JSON.stringify({ event: 'ack', id, seq, roomid, ts });

/** A direct message from `uid`: stamped with the pair's seq; `text` goes to both users, `ack` to the sender. */
export function directMessage(uid, msg) {
  const roomid = uid < msg.to ? `dm:${uid}|${msg.to}` : `dm:${msg.to}|${uid}`;
  const seq = nextSeq(roomid);
  const ts = Date.now();
  return {
    text: JSON.stringify({ event: 'message', id: msg.id, roomid, seq, ts, uid, name: 'u', message: msg.message, to: msg.to }),
    ack: ackText(msg.id, seq, roomid, ts),
  };
}

/** A message to the room `msg.roomid` of `num` members: `text` goes to every member, `ack` to the sender. */
export function roomMessage(msg, num) {
  const roomid = msg.roomid;
  const seq = nextSeq(roomid);
  const ts = Date.now();
  return {
    text: JSON.stringify({ event: 'message', id: msg.id, roomid, seq, ts, name: 'u', message: msg.message, num }),
    ack: ackText(msg.id, seq, roomid, ts),
  };
}
