// The uWS peer (uws-pubsub.mjs) on `ws`, its frames made by the same code (chat-frames.mjs): the
// cheapest chat server `ws` allows, doing nothing but the protocol (no auth, no store, no limits).
// It measures what `ws` on Node charges for the small-room and direct-message loads, against what
// uWebSockets.js charges for the same work: the floor under any server built on `ws`, ours included.
//
// What keeps it cheap, as uWS does it: a fan-out's text is encoded once and sent to every socket
// as that Buffer (`ws` frames it without copying); the frames one incoming message sends back to
// its sender (echo, ack) are corked into one write, as uWS corks inside its message handler.
import { WebSocketServer } from 'ws';
import { directMessage, joinedText, roomMessage, WELCOME } from './chat-frames.mjs';

const port = Number(process.env.PORT ?? 8000);
const host = process.env.HOST ?? '127.0.0.1';
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
      ws.send(joinedText(msg.roomid, topics.get(msg.roomid).size));
    } else if (msg.event === 'message' && typeof msg.to === 'string') {
      const { text, ack } = directMessage(ws.uid, msg);
      const frame = Buffer.from(text);
      publish(`user:${msg.to}`, frame);
      if (msg.to !== ws.uid) publish(`user:${ws.uid}`, frame);
      ws.send(ack);
    } else if (msg.event === 'message') {
      const { text, ack } = roomMessage(msg, topics.get(msg.roomid)?.size ?? 0);
      publish(msg.roomid, Buffer.from(text));
      ws.send(ack);
    }
  } finally {
    ws._socket.uncork();
  }
}

function onClose(ws) {
  for (const topic of ws.topics) {
    const set = topics.get(topic);
    set?.delete(ws);
    if (set?.size === 0) topics.delete(topic);
  }
}

const wss = new WebSocketServer({ port, host, perMessageDeflate: false, maxPayload: 64 * 1024 });
wss.on('connection', (ws, req) => {
  ws.topics = [];
  ws.uid = new URL(req.url ?? '/', 'http://x').searchParams.get('uid') ?? undefined;
  if (ws.uid) subscribe(ws, `user:${ws.uid}`);
  ws.on('message', (data, isBinary) => onMessage(ws, data, isBinary));
  ws.on('close', () => onClose(ws));
  ws.send(WELCOME);
});
wss.on('listening', () => console.log(`LISTENING ws://${host}:${wss.address().port}/`));
process.on('SIGTERM', () => process.exit(0));
