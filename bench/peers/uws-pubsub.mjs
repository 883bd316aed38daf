// uWebSockets.js pub/sub (npm package `uwebsockets` 3.0.6, a repackaging of uWebSockets.js binaries).
// Speaks the chat protocol without auth: `welcome` on open, `join` → subscribe + `joined`,
// `message` → parse, stamp (seq, ts, num), stringify once, app.publish to the room, `ack` to the sender.
// Direct messages: a connection opened with `?uid=` subscribes to a topic of its own user; a
// `message` with `to` is stamped with the pair's seq and published to the recipient's topic and the
// sender's (every connection of both, as our server does), then acked.
import uWS from 'uwebsockets';
import { directMessage, joinedText, roomMessage, WELCOME } from './chat-frames.mjs';

const port = Number(process.env.PORT ?? 8000);
const host = process.env.HOST ?? '127.0.0.1';
const members = new Map();
const decoder = new TextDecoder();

const app = uWS.App().ws('/*', {
  compression: uWS.DISABLED,
  maxPayloadLength: 64 * 1024,
  maxBackpressure: 1024 * 1024,
  closeOnBackpressureLimit: true,
  idleTimeout: 120,
  upgrade: (res, req, context) => {
    const uid = new URLSearchParams(req.getQuery() ?? '').get('uid') ?? undefined;
    res.upgrade(
      { uid, rooms: [] },
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  },
  open: (ws) => {
    const { uid } = ws.getUserData();
    if (uid) ws.subscribe(`user:${uid}`);
    ws.send(WELCOME);
  },
  message: (ws, data, isBinary) => {
    if (isBinary) return;
    let msg;
    try {
      msg = JSON.parse(decoder.decode(data));
    } catch {
      return;
    }
    if (msg.event === 'join') {
      ws.subscribe(msg.roomid);
      ws.getUserData().rooms.push(msg.roomid);
      members.set(msg.roomid, (members.get(msg.roomid) ?? 0) + 1);
      ws.send(joinedText(msg.roomid, members.get(msg.roomid)));
    } else if (msg.event === 'message' && typeof msg.to === 'string') {
      const uid = ws.getUserData().uid;
      const { text, ack } = directMessage(uid, msg);
      app.publish(`user:${msg.to}`, text, false);
      if (msg.to !== uid) app.publish(`user:${uid}`, text, false);
      ws.send(ack);
    } else if (msg.event === 'message') {
      const { text, ack } = roomMessage(msg, members.get(msg.roomid));
      app.publish(msg.roomid, text, false);
      ws.send(ack);
    } else if (msg.event === 'heartbeat') {
      /* nothing */
    }
  },
  close: (ws) => {
    for (const r of ws.getUserData().rooms) members.set(r, (members.get(r) ?? 1) - 1);
  },
});

app.listen(host, port, (token) => {
  if (!token) {
    console.error('uws: listen failed');
    process.exit(1);
  }
  console.log(`LISTENING ws://${host}:${uWS.us_socket_local_port(token)}/`);
});
process.on('SIGTERM', () => process.exit(0));
