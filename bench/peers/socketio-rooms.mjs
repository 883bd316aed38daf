// socket.io 4 with rooms, websocket transport only: `join` (acknowledged) puts the socket in a room,
// `message` is stamped (seq, ts, num) and emitted to the room with io.to(room).emit — socket.io
// encodes the packet once per broadcast.
// Direct messages: a connection opened with `?uid=` joins a room of its own user; a `message` with
// `to` is stamped with the pair's seq and emitted once to the recipient's room and the sender's
// (every connection of both, as our server does).
// With REDIS_URL set (the compare's socketio-redis3), the same server runs as one of several
// processes joined by @socket.io/redis-adapter over ioredis (the adapter's documented ioredis
// setup): io.to(room).emit then also publishes the packet to Redis and every other process
// delivers it to its own sockets in the room. seq and num stay per process (nothing reads them).
import http from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.env.PORT ?? 8000);
const host = process.env.HOST ?? '127.0.0.1';
const httpServer = http.createServer();
const io = new Server(httpServer, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
const redisClients = [];
if (process.env.REDIS_URL) {
  const { Redis } = await import('ioredis');
  const { createAdapter } = await import('@socket.io/redis-adapter');
  const pubClient = new Redis(process.env.REDIS_URL);
  const subClient = pubClient.duplicate();
  redisClients.push(pubClient, subClient);
  await Promise.all(
    redisClients.map((c) =>
      c.status === 'ready'
        ? undefined
        : new Promise((resolve, reject) => {
            c.once('ready', resolve);
            c.once('error', reject);
          }),
    ),
  );
  io.adapter(createAdapter(pubClient, subClient));
}
const seqs = new Map();

io.on('connection', (socket) => {
  const uid = typeof socket.handshake.query.uid === 'string' ? socket.handshake.query.uid : undefined;
  if (uid) socket.join(`user:${uid}`);
  socket.on('join', (room, ack) => {
    socket.join(room);
    socket.data.room = room;
    if (typeof ack === 'function') ack({ roomid: room });
  });
  socket.on('message', (msg) => {
    if (uid && msg && typeof msg.to === 'string') {
      const room = uid < msg.to ? `dm:${uid}|${msg.to}` : `dm:${msg.to}|${uid}`;
      const seq = (seqs.get(room) ?? 0) + 1;
      seqs.set(room, seq);
      io.to(`user:${msg.to}`)
        .to(`user:${uid}`)
        .emit('message', { id: msg.id, roomid: room, seq, ts: Date.now(), uid, name: socket.id, message: msg.message, to: msg.to });
      return;
    }
    const room = msg && typeof msg.roomid === 'string' ? msg.roomid : socket.data.room;
    if (!room) return;
    const seq = (seqs.get(room) ?? 0) + 1;
    seqs.set(room, seq);
    io.to(room).emit('message', {
      id: msg.id,
      roomid: room,
      seq,
      ts: Date.now(),
      name: socket.id,
      message: msg.message,
      num: io.sockets.adapter.rooms.get(room)?.size ?? 0,
    });
  });
});

httpServer.listen(port, host, () => console.log(`LISTENING ws://${host}:${httpServer.address().port}/`));
process.on('SIGTERM', () => {
  for (const c of redisClients) c.disconnect();
  process.exit(0);
});
