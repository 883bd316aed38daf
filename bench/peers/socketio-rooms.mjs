// socket.io 4 with rooms, websocket transport only: `join` (acknowledged) puts the socket in a room,
// `message` is stamped (seq, ts, num) and emitted to the room with io.to(room).emit — socket.io
// encodes the packet once per broadcast.
import http from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.env.PORT ?? 8000);
const host = process.env.HOST ?? '127.0.0.1';
const httpServer = http.createServer();
const io = new Server(httpServer, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
const seqs = new Map();

io.on('connection', (socket) => {
  socket.on('join', (room, ack) => {
    socket.join(room);
    socket.data.room = room;
    if (typeof ack === 'function') ack({ roomid: room });
  });
  socket.on('message', (msg) => {
    const room = msg && typeof msg.roomid === 'string' ? msg.roomid : socket.data.room;
    if (!room) return;
    const seq = (seqs.get(room) ?? 0) + 1;
    seqs.set(room, seq);
    io.to(room).emit('message', { id: msg.id, roomid: room, seq, ts: Date.now(), name: socket.id, message: msg.message, num: io.sockets.adapter.rooms.get(room)?.size ?? 0 });
  });
});

httpServer.listen(port, host, () => console.log(`LISTENING ws://${host}:${httpServer.address().port}/`));
process.on('SIGTERM', () => process.exit(0));
