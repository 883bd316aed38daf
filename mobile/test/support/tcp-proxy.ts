import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of the server, to make the network misbehave: cut every connection
 * (a phone losing its network), refuse new ones (still offline), or silently swallow bytes while
 * the sockets stay open (a half-open connection that only a heartbeat can detect).
 */
export class TcpProxy {
  connections = 0;
  refusing = false;
  private readonly hanging = new Set<{ client: Socket; upstream: Socket }>();
  private readonly pairs = new Set<{ client: Socket; upstream: Socket; muted: { down: boolean; up: boolean } }>();
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => proxy!.accept(client, targetPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    proxy = new TcpProxy(server, typeof address === 'object' && address ? address.port : 0);
    return proxy;
  }

  private accept(client: Socket, targetPort: number): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    this.connections += 1;
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    const pair = { client, upstream, muted: { down: false, up: false } };
    this.pairs.add(pair);
    client.on('data', (chunk) => pair.muted.up || upstream.write(chunk));
    upstream.on('data', (chunk) => pair.muted.down || client.write(chunk));
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    // A muted connection is a dead network: the server's close never reaches the client either.
    const upstreamEnded = () => {
      if (!pair.muted.down) return end();
      this.pairs.delete(pair);
      this.hanging.add(pair);
      upstream.destroy();
    };
    client.on('close', () => (this.hanging.delete(pair), end())).on('error', end);
    upstream.on('close', upstreamEnded).on('error', upstreamEnded);
  }

  /** Current connections stop delivering: server-to-client only, client-to-server only, or both ways. */
  mute(direction: 'down' | 'up' | 'both'): void {
    for (const pair of this.pairs) {
      if (direction !== 'up') pair.muted.down = true;
      if (direction !== 'down') pair.muted.up = true;
    }
  }

  /** Every current connection is dropped without a closing handshake. */
  cutAll(): void {
    for (const pair of [...this.pairs, ...this.hanging]) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
