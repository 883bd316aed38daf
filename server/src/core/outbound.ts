/**
 * Everything the core sends goes through here: one place that counts deliveries and closes a
 * connection whose unread output passes SEND_BUFFER_LIMIT_BYTES (a slow consumer, 4008).
 */

import { CloseCode, ServerEvent, type ServerFrame } from '../protocol.ts';
import type { FrameError } from './frames.ts';
import type { Logger } from './logger.ts';
import type { Session } from './session.ts';

const DRAIN_POLL_MS = 10;

export interface OutboundStats {
  deliveries: number;
  slowConsumerCloses: number;
  /** Frames not sent because their socket had already closed. */
  droppedSends: number;
  /** Error frames sent, by ErrorCode. */
  errors: Record<number, number>;
}

export class Outbound<P> {
  readonly stats: OutboundStats = { deliveries: 0, slowConsumerCloses: 0, droppedSends: 0, errors: {} };
  /**
   * The connections written to since the last `takeWatched`, and those that still had output
   * unread then. A transport's unread output grows only when something is sent to it, so the sum
   * over all connections (OUTPUT_MAX_BYTES) needs only these, not every connection: with 10,000
   * connections, scanning them all four times a second was a sixth of an idle server's CPU.
   */
  private watched: Session<P>[] = [];

  constructor(
    /** Makes the payload that Transport.sendPrepared sends, once per fan-out. */
    readonly prepare: (text: string) => P,
    private readonly sendBufferLimitBytes: number,
    /** How long `writable` waits for a connection to read what it was sent before. */
    private readonly drainTimeoutMs: number,
    private readonly logger: Logger,
  ) {}

  send(session: Session<P>, frame: ServerFrame): void {
    this.sendText(session, JSON.stringify(frame));
  }

  /** Sends `frame` when it answers a request with an id (`ref`): the course's client sends none and would show it. */
  reply(session: Session<P>, frame: ServerFrame & { ref?: string }): void {
    if (frame.ref !== undefined) this.send(session, frame);
  }

  error(session: Session<P>, error: FrameError & { until?: number }): void {
    this.stats.errors[error.code] = (this.stats.errors[error.code] ?? 0) + 1;
    const frame: ServerFrame = { event: ServerEvent.Error, code: error.code, message: error.message };
    if (error.until !== undefined) frame.until = error.until;
    if (error.ref !== undefined) frame.ref = error.ref;
    this.send(session, frame);
  }

  sendText(session: Session<P>, text: string): void {
    if (session.closed) {
      this.stats.droppedSends += 1;
      return;
    }
    session.transport.send(text);
    this.sent(session);
  }

  sendPayload(session: Session<P>, payload: P): void {
    if (session.closed) {
      this.stats.droppedSends += 1;
      return;
    }
    session.transport.sendPrepared(payload);
    this.sent(session);
  }

  private sent(session: Session<P>): void {
    this.stats.deliveries += 1;
    this.watch(session);
    if (session.transport.bufferedAmount > this.sendBufferLimitBytes) this.closeSlow(session);
  }

  /** A heartbeat ping: written like every frame (so watched), but not counted as a delivery. */
  ping(session: Session<P>, text: string): void {
    session.transport.send(text);
    this.watch(session);
  }

  /** Something was written to the connection, or it still has output unread: its output counts at the next `takeWatched`. */
  watch(session: Session<P>): void {
    if (session.outputWatched) return;
    session.outputWatched = true;
    this.watched.push(session);
  }

  /** The connections whose unread output may be more than zero; each is watched again only once `watch`ed. */
  takeWatched(): Session<P>[] {
    const watched = this.watched;
    this.watched = [];
    for (const session of watched) session.outputWatched = false;
    return watched;
  }

  /**
   * Resolves true once the connection has read its output down to half the limit, so a large
   * reply can go out a page at a time; false (after closing it as a slow consumer) when it has not
   * within DRAIN_TIMEOUT_MS, or when it closed meanwhile.
   */
  async writable(session: Session<P>): Promise<boolean> {
    const deadline = Date.now() + this.drainTimeoutMs;
    while (session.open && !session.slow && this.backedUp(session)) {
      if (Date.now() > deadline) {
        this.closeSlow(session);
        return false;
      }
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
    return session.open && !session.slow;
  }

  /** The connection has more than half the limit unread: a large reply waits (`writable`) before its next page. */
  backedUp(session: Session<P>): boolean {
    return session.transport.bufferedAmount > this.sendBufferLimitBytes / 2;
  }

  /** Stops reading the connection and closes it with 4008; once. */
  closeSlow(session: Session<P>): void {
    if (!session.markSlow()) return;
    this.stats.slowConsumerCloses += 1;
    this.logger.warn('slow consumer closed', { conn: session.id, buffered: session.transport.bufferedAmount });
    session.transport.pause?.();
    session.transport.close(CloseCode.SlowConsumer, 'reading too slowly');
  }
}
