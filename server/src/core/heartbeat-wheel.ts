/**
 * Spreads the heartbeat over its interval. The sweep visits every connection once an interval:
 * each visit writes a ping, and each ping brings a pong back. Done for all connections at once,
 * 10,000 connections cost about 110 ms of writes in one event-loop turn (11 µs a loopback write,
 * docs/benchmarks.md), and every message in flight waits behind them: a latency spike each
 * interval. Here connections are dealt round-robin into slots, one slot is visited per tick, and a
 * full turn of the wheel is one interval, so each connection is still visited once an interval
 * (a silent one is terminated within two), and a tick writes a slot's share of the pings.
 */

/** The longest pause between two ticks; shorter intervals get fewer slots. */
export const HEARTBEAT_TICK_MS = 250;

export class HeartbeatWheel<T> {
  private readonly slots: Set<T>[];
  private readonly slotOf = new Map<T, Set<T>>();
  private dealt = 0;
  private due = 0;
  /** Time between ticks: the interval divided by the number of slots. */
  readonly tickMs: number;

  constructor(intervalMs: number) {
    const count = Math.max(1, Math.round(intervalMs / HEARTBEAT_TICK_MS));
    this.slots = Array.from({ length: count }, () => new Set<T>());
    this.tickMs = intervalMs / count;
  }

  /** A new connection: its first visit comes within one interval, as every later one. */
  add(item: T): void {
    const slot = this.slots[this.dealt % this.slots.length];
    this.dealt += 1;
    slot.add(item);
    this.slotOf.set(item, slot);
  }

  delete(item: T): void {
    this.slotOf.get(item)?.delete(item);
    this.slotOf.delete(item);
  }

  /** The connections to visit at this tick; the next call returns the next slot's. */
  tick(): Set<T> {
    const slot = this.slots[this.due];
    this.due = (this.due + 1) % this.slots.length;
    return slot;
  }
}
