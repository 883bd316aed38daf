/**
 * The native stack's count of upgraded sockets per client address, from the upgrade until Deno
 * reports the socket closed. The core forgets a closing connection after a grace time, since it
 * cannot wait on a peer that never reads; but Deno cannot abort an upgraded socket, which then stays
 * open with its send queue until the peer reads or its TCP connection fails. Counting it here until
 * then keeps CONNECTIONS_PER_ADDRESS a bound on the sockets one address holds.
 */
export class SocketCensus {
  private readonly open = new Map<string, number>();

  /** `perAddress` 0: no limit. */
  constructor(private readonly perAddress: number) {}

  /** Whether `address` holds as many sockets as it may, closing ones included. */
  full(address: string): boolean {
    return this.perAddress > 0 && (this.open.get(address) ?? 0) >= this.perAddress;
  }

  /** Counts one socket of `address`; the function returned uncounts it, once however often called. */
  add(address: string): () => void {
    this.open.set(address, (this.open.get(address) ?? 0) + 1);
    let counted = true;
    return () => {
      if (!counted) return;
      counted = false;
      const left = (this.open.get(address) ?? 1) - 1;
      if (left <= 0) this.open.delete(address);
      else this.open.set(address, left);
    };
  }
}
