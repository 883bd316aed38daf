// A bare `ws` server: accepts connections and does nothing else. The baseline for memory per idle
// connection.
import { WebSocketServer } from 'ws';

const port = Number(process.env.PORT ?? 8000);
const host = process.env.HOST ?? '127.0.0.1';
const wss = new WebSocketServer({ port, host, perMessageDeflate: false });
wss.on('connection', () => {});
wss.on('listening', () => console.log(`LISTENING ws://${host}:${wss.address().port}/`));
process.on('SIGTERM', () => process.exit(0));
