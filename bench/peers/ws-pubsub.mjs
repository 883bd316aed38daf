// The uWS peer (uws-pubsub.mjs) line for line on `ws`: the cheapest chat server `ws` allows, doing
// nothing but the protocol (no auth, no store, no limits). It measures what `ws` on Node charges
// for the small-room and direct-message loads, against what uWebSockets.js charges for the same
// work: the floor under any server built on `ws`, ours included.
//
// What keeps it cheap, as uWS does it: a fan-out's text is encoded once and sent to every socket
// as that Buffer (`ws` frames it without copying); the frames one incoming message sends back to
// its sender (echo, ack) are corked into one write, as uWS corks inside its message handler.
import { WebSocketServer } from 'ws';

const port = Number(process.env.PORT ?? 8000);
const host = process.env.HOST ?? '127.0.0.1';
const seqs = new Map();
/** Topic (a room, or `user:<uid>`) → the sockets subscribed to it. */
const topics = new Map();
const TEXT = { binary: false };

function subscribe(ws, topic) {
  let set = topics.get(topic);
  if (!set) topics.set(topic, (set = new Set()));
  set.add(ws);
  ws.topics.push(topic);
}

function publish(topic, data) {
  const set = topics.get(topic);
  if (set) for (const ws of set) ws.send(data, TEXT);
}

function onMessage(ws, data, isBinary) {
  if (isBinary) return;
  let msg;
  try {
    msg = JSON.parse(data);
  } catch {
    return;
  }
  ws._socket.cork();
  try {
    if (msg.event === 'join') {
      subscribe(ws, msg.roomid);
      ws.send(JSON.stringify({ event: 'joined', roomid: msg.roomid, num: topics.get(msg.roomid).size }));
    } else if (msg.event === 'message' && typeof msg.to === 'string') {
      const uid = ws.uid;
      const room = uid < msg.to ? `dm:${uid}|${msg.to}` : `dm:${msg.to}|${uid}`;
      const seq = (seqs.get(room) ?? 0) + 1;
      seqs.set(room, seq);
      const ts = Date.now();
      const text = Buffer.from(JSON.stringify({ event: 'message', id: msg.id, roomid: room, seq, ts, uid, name: 'u', message: msg.message, to: msg.to }));
      publish(`user:${msg.to}`, text);
      if (msg.to !== uid) publish(`user:${uid}`, text);
      ws.send(JSON.stringify({ event: 'ack', id: msg.id, seq, roomid: room, ts }));
    } else if (msg.event === 'message') {
      const room = msg.roomid;
      const seq = (seqs.get(room) ?? 0) + 1;
      seqs.set(room, seq);
      const ts = Date.now();
      const members = topics.get(room)?.size ?? 0;
      publish(room, Buffer.from(JSON.stringify({ event: 'message', id: msg.id, roomid: room, seq, ts, name: 'u', message: msg.message, num: members })));
      ws.send(JSON.stringify({ event: 'ack', id: msg.id, seq, roomid: room, ts }));
    }
  } finally {
    ws._socket.uncork();
  }
}

function onClose() {
  for (const topic of this.topics) {
    const set = topics.get(topic);
    set?.delete(this);
    if (set?.size === 0) topics.delete(topic);
  }
}

const wss = new WebSocketServer({ port, host, perMessageDeflate: false, maxPayload: 64 * 1024 });
wss.on('connection', (ws, req) => {
  ws.topics = [];
  ws.uid = new URL(req.url ?? '/', 'http://x').searchParams.get('uid') ?? undefined;
  if (ws.uid) subscribe(ws, `user:${ws.uid}`);
  ws.on('message', (data, isBinary) => onMessage(ws, data, isBinary));
  ws.on('close', onClose);
  ws.send('{"event":"welcome","protocol":1,"heartbeatMs":0}');
});
wss.on('listening', () => console.log(`LISTENING ws://${host}:${wss.address().port}/`));
process.on('SIGTERM', () => process.exit(0));
