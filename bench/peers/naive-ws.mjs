// The course's naive chat server ("统计聊天人数" in the course notes), as the course writes it: one
// room (every client), each message parsed, `num` set, re-stringified and sent once per client with
// `client.send(JSON.stringify(msgObj))`; heartbeat ping every HEARTBEAT_INTERVAL_MS as in the
// course's "心跳检测" section. Only the port/host plumbing and the ready line are added.
import WebSocket, { WebSocketServer } from 'ws';

const port = Number(process.env.PORT ?? 8000);
const host = process.env.HOST ?? '127.0.0.1';
const timeInterval = Number(process.env.HEARTBEAT_INTERVAL_MS ?? 30000);

const wss = new WebSocketServer({ port, host });

wss.on('connection', function connection(ws) {
  ws.isAlive = true;
  ws.on('message', function (msg) {
    var msgObj = JSON.parse(msg);
    if (msgObj.event === 'heartbeat' && msgObj.message === 'pong') {
      ws.isAlive = true;
      return;
    }
    if (msgObj.name) {
      ws.name = msgObj.name;
    }
    // 广播到其他的客户端
    wss.clients.forEach(function each(client) {
      msgObj.num = wss.clients.size;
      if (client.readyState === WebSocket.OPEN) {
        client.send(JSON.stringify(msgObj));
      }
    });
  });
});

const interval = setInterval(function () {
  wss.clients.forEach(function each(ws) {
    if (ws.isAlive === false) {
      return ws.terminate();
    }
    ws.isAlive = false;
    ws.send(JSON.stringify({ event: 'heartbeat', message: 'ping' }));
  });
}, timeInterval);

wss.on('listening', () => console.log(`LISTENING ws://${host}:${wss.address().port}/`));
process.on('SIGTERM', () => {
  clearInterval(interval);
  process.exit(0);
});
