/**
 * Admission control for new sockets: at most `maxPerAddress` open connections per client address,
 * and a token bucket of handshakes per address. Mobile carriers put many users behind one address
 * (CGNAT), so the defaults are generous; 0 turns a limit off.
 */

import { KeyedBuckets } from './rate-limiter.ts';

export type Refusal = 'too-many-connections' | 'too-many-handshakes';

export interface AdmissionLimits {
  connectionsPerAddress: number;
  handshakesPerSec: number;
  handshakeBurst: number;
}

export class AdmissionControl {
  private readonly open = new Map<string, number>();
  private readonly handshakes: KeyedBuckets;

  constructor(private readonly limits: AdmissionLimits) {
    this.handshakes = new KeyedBuckets(limits.handshakesPerSec, limits.handshakeBurst);
  }

  /** Whether a handshake from `address` may proceed; takes a handshake token when it may. */
  admit(address: string): Refusal | undefined {
    const { connectionsPerAddress, handshakesPerSec } = this.limits;
    if (connectionsPerAddress > 0 && (this.open.get(address) ?? 0) >= connectionsPerAddress) return 'too-many-connections';
    if (handshakesPerSec > 0 && !this.handshakes.take(address)) return 'too-many-handshakes';
    return undefined;
  }

  opened(address: string): void {
    this.open.set(address, (this.open.get(address) ?? 0) + 1);
  }

  closed(address: string): void {
    const count = (this.open.get(address) ?? 1) - 1;
    if (count <= 0) this.open.delete(address);
    else this.open.set(address, count);
  }
}

export function isLoopback(address: string): boolean {
  const unmapped = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return unmapped.startsWith('127.') || address === '::1';
}

/**
 * Whether a socket's peer is a proxy whose X-Forwarded-For is believed: `loopback` trusts a proxy
 * on this machine (nginx beside the node, as docs/deployment.md sets it up), other entries are
 * exact addresses. Anyone else's header is ignored, so a client that reaches a node directly
 * cannot claim another address.
 */
export function isTrustedProxy(socketAddress: string | undefined, trusted: readonly string[]): boolean {
  if (socketAddress === undefined || trusted.length === 0) return false;
  const unmapped = socketAddress.startsWith('::ffff:') ? socketAddress.slice('::ffff:'.length) : socketAddress;
  return (trusted.includes('loopback') && isLoopback(socketAddress)) || trusted.includes(unmapped) || trusted.includes(socketAddress);
}

/** The client's address: the socket's, or from a trusted proxy the one it appended to X-Forwarded-For. */
export function clientAddress(socketAddress: string | undefined, forwardedFor: string | undefined, trusted: readonly string[]): string {
  if (forwardedFor && isTrustedProxy(socketAddress, trusted)) {
    const hops = forwardedFor.split(',').map((s) => s.trim()).filter(Boolean);
    if (hops.length > 0) return hops[hops.length - 1];
  }
  return socketAddress ?? 'unknown';
}
