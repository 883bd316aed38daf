/**
 * A minimal WebSocket client on a raw TCP (or TLS) socket, for load generation.
 *
 * Why not the `ws` client: at ~1M deliveries/s the load generator itself becomes the bound, and most
 * of its cost is per-frame JavaScript. This client parses server frames in one loop per TCP chunk,
 * hands each text frame to the caller as (buffer, start, end) without decoding it, and answers
 * pings and closes itself. Plain TCP sockets read with `onread` into one shared buffer: no Buffer
 * and no stream 'data' event per read, which at 1,000 members (a read per member per message) is
 * most of what a read costs in JavaScript. Only what a chat benchmark needs: no extensions (no
 * permessage-deflate), no binary API, fragmented text frames are reassembled.
 */

import crypto from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';

export interface FrameHandler {
  /** A whole text frame: bytes buf[start, end). `now` is performance.now() when its chunk arrived. */
  onText(buf: Buffer, start: number, end: number, now: number): void;
  /** The connection is gone; code 1006 when no close frame came. */
  onClose(code: number): void;
  /**
   * Called with the socket before its first frame is handed over: frames that came in the same
   * read as the 101 (a welcome, a heartbeat ping) may need to answer before the connect resolves.
   */
  attach?(ws: RawWebSocket): void;
}

export interface ConnectOptions {
  localAddress?: string;
  timeoutMs?: number;
  /** Receives frames from the first one (which may arrive with the 101 response). */
  handler?: FrameHandler;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
/**
 * Every plain socket reads into this: a chunk is parsed before the callback returns, and whatever
 * must outlive it (a partial frame, the handshake head, fragments) is copied.
 */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export class RawWebSocket {
  handler: FrameHandler | null = null;
  bytesRead = 0;
  /** TCP reads ('data' events): deliveries per read shows how much the server coalesces. */
  reads = 0;
  closeCode = 0;
  closed = false;
  private pending: Buffer | null = null;
  private fragments: Buffer[] | null = null;
  private readonly mask = crypto.randomBytes(4);

  constructor(readonly socket: net.Socket) {}

  /** Called by connect() with whatever came after the handshake response. */
  start(rest: Buffer): void {
    if (rest.length > 0) this.onData(rest);
  }

  /** chunk[0, length) was read from the socket; it is only valid during this call (READ_BUFFER). */
  onData(chunk: Buffer, length = chunk.length): void {
    this.bytesRead += length;
    this.reads++;
    const now = performance.now();
    let buf = chunk;
    let len = length;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk.subarray(0, length)]);
      len = buf.length;
      this.pending = null;
    }
    let off = 0;
    while (len - off >= 2) {
      const b0 = buf[off];
      const b1 = buf[off + 1];
      let plen = b1 & 0x7f;
      let hdr = 2;
      if (plen === 126) {
        if (len - off < 4) break;
        plen = buf.readUInt16BE(off + 2);
        hdr = 4;
      } else if (plen === 127) {
        if (len - off < 10) break;
        plen = buf.readUInt32BE(off + 2) * 4294967296 + buf.readUInt32BE(off + 6);
        hdr = 10;
      }
      if (b1 & 0x80) {
        // Servers must not mask: protocol error.
        this.fail(1002);
        return;
      }
      if (len - off < hdr + plen) break;
      const start = off + hdr;
      const end = start + plen;
      off = end;
      const opcode = b0 & 0x0f;
      const fin = (b0 & 0x80) !== 0;
      if (opcode === 1) {
        if (fin) this.handler?.onText(buf, start, end, now);
        else this.fragments = [Buffer.from(buf.subarray(start, end))];
      } else if (opcode === 0) {
        if (this.fragments === null) continue;
        this.fragments.push(Buffer.from(buf.subarray(start, end)));
        if (fin) {
          const whole = Buffer.concat(this.fragments);
          this.fragments = null;
          this.handler?.onText(whole, 0, whole.length, now);
        }
      } else if (opcode === 9) {
        this.sendFrame(0xa, buf.subarray(start, end));
      } else if (opcode === 8) {
        const code = plen >= 2 ? buf.readUInt16BE(start) : 1005;
        if (this.closeCode === 0) this.closeCode = code;
        if (!this.closed) {
          const body = Buffer.alloc(2);
          body.writeUInt16BE(code === 1005 ? 1000 : code);
          this.sendFrame(0x8, body);
        }
        this.socket.end();
        return;
      }
      // opcode 2 (binary) and 0xa (pong) are ignored.
    }
    if (off < len) this.pending = Buffer.from(buf.subarray(off, len));
  }

  private fail(code: number): void {
    if (this.closeCode === 0) this.closeCode = code;
    this.socket.destroy();
  }

  /** Sends one masked frame. */
  sendFrame(opcode: number, payload: Buffer): boolean {
    const plen = payload.length;
    const hdr = plen < 126 ? 2 : plen < 65536 ? 4 : 10;
    const out = Buffer.allocUnsafe(hdr + 4 + plen);
    out[0] = 0x80 | opcode;
    if (hdr === 2) out[1] = 0x80 | plen;
    else if (hdr === 4) {
      out[1] = 0x80 | 126;
      out.writeUInt16BE(plen, 2);
    } else {
      out[1] = 0x80 | 127;
      out.writeUInt32BE(Math.floor(plen / 4294967296), 2);
      out.writeUInt32BE(plen >>> 0, 6);
    }
    const m = this.mask;
    out[hdr] = m[0];
    out[hdr + 1] = m[1];
    out[hdr + 2] = m[2];
    out[hdr + 3] = m[3];
    const base = hdr + 4;
    for (let i = 0; i < plen; i++) out[base + i] = payload[i] ^ m[i & 3];
    return this.socket.write(out);
  }

  sendText(text: string): boolean {
    return this.sendFrame(0x1, Buffer.from(text, 'utf8'));
  }

  close(code = 1000): void {
    if (this.closed || this.socket.destroyed) return;
    const body = Buffer.alloc(2);
    body.writeUInt16BE(code);
    try {
      this.sendFrame(0x8, body);
    } catch {
      /* socket already gone */
    }
    this.socket.end();
    // Bounded: a server that never answers the close is cut off.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }
}

/**
 * Opens a WebSocket connection to a ws:// or wss:// URL (wss: certificates are not verified: the
 * targets are local development servers). Resolves after the 101 response.
 */
export function connectWebSocket(url: URL, opts: ConnectOptions = {}): Promise<RawWebSocket> {
  const secure = url.protocol === 'wss:' || url.protocol === 'https:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (secure ? 443 : 80));
  const key = crypto.randomBytes(16).toString('base64');
  const expectAccept = crypto
    .createHash('sha1')
    .update(key + GUID)
    .digest('base64');
  return new Promise((resolve, reject) => {
    // Reads go to the handshake first, then to the RawWebSocket's frame parser.
    let onChunk: (chunk: Buffer, length: number) => void = (chunk, length) => onHead(chunk.subarray(0, length));
    const socket = secure
      ? tls.connect({
          socket: net.connect({ host, port, localAddress: opts.localAddress }),
          rejectUnauthorized: false,
          servername: net.isIP(host) ? undefined : host,
        })
      : net.connect({
          host,
          port,
          localAddress: opts.localAddress,
          onread: {
            buffer: READ_BUFFER,
            callback: (n: number) => {
              onChunk(READ_BUFFER, n);
              return true;
            },
          },
        });
    if (secure) socket.on('data', (chunk: Buffer) => onChunk(chunk, chunk.length));
    socket.setNoDelay(true);
    let head: Buffer = Buffer.alloc(0);
    let done = false;
    const timer = setTimeout(() => finish(new Error(`handshake timeout after ${opts.timeoutMs ?? 10000} ms`)), opts.timeoutMs ?? 10000);
    const finish = (err: Error | null, ws?: RawWebSocket, rest?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        onChunk = () => {};
        socket.destroy();
        reject(err);
      } else {
        ws!.handler = opts.handler ?? null;
        opts.handler?.attach?.(ws!);
        onChunk = (chunk, length) => ws!.onData(chunk, length);
        ws!.start(rest!);
        resolve(ws!);
      }
    };
    const onHead = (chunk: Buffer) => {
      // Copied: the chunk's memory is reused by the next read.
      head = Buffer.concat([head, chunk]);
      const at = head.indexOf(CRLFCRLF);
      if (at < 0) {
        if (head.length > 16384) finish(new Error('handshake response too large'));
        return;
      }
      const text = head.toString('latin1', 0, at);
      const status = text.slice(0, text.indexOf('\r\n'));
      if (!/^HTTP\/1\.1 101/.test(status)) return finish(new Error(`handshake refused: ${status}`));
      const accept = /\r\nsec-websocket-accept:\s*(\S+)/i.exec(text)?.[1];
      if (accept !== expectAccept) return finish(new Error('handshake: bad Sec-WebSocket-Accept'));
      const ws = new RawWebSocket(socket);
      socket.on('close', () => {
        ws.closed = true;
        ws.handler?.onClose(ws.closeCode || 1006);
      });
      socket.on('error', () => {
        /* reported through close */
      });
      finish(null, ws, head.subarray(at + 4));
    };
    socket.once('error', (err) => finish(err));
    socket.once('close', () => finish(new Error('closed during handshake')));
    const extra = Object.entries(opts.headers ?? {})
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    const hostHeader = url.host;
    socket.write(
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${hostHeader}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
    );
  });
}

/** True for localhost, 127.0.0.0/8 and ::1: the only targets this harness accepts. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
