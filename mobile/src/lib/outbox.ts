import type { KeyValueStorage } from './storage';
import { uuidv4 } from './uuid';

export type OutgoingStatus = 'sending' | 'sent' | 'failed';

export interface OutgoingMessage {
  /** The client's id, sent as the frame's `id`; the server acks and echoes it. Same on every resend. */
  id: string;
  roomid: string;
  /** Direct chats: the peer's uid. */
  to?: string;
  text: string;
  status: OutgoingStatus;
  createdAt: number;
  seq?: number;
  /** Why it failed: the server's error code, or 0 for "no ack in time". */
  errorCode?: number;
}

const STORAGE_KEY = 'outbox';

/**
 * Own messages the server has not acknowledged yet, kept in storage so that an app killed in a
 * tunnel sends them after its relaunch. Each keeps its id across resends (the server drops a
 * repeated id, so a resend cannot duplicate it). A message fails after `failAfterMs` without an ack
 * counted only while the client is connected (`resume`/`pause`): however long a tunnel lasts, what
 * was written in it waits and goes out when the network returns.
 */
export class Outbox {
  private readonly entries = new Map<string, OutgoingMessage>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** When each running timer started, and what the message had waited before (while connected). */
  private readonly armedAt = new Map<string, number>();
  private readonly waited = new Map<string, number>();
  private running = false;

  constructor(
    private readonly storage: KeyValueStorage,
    private readonly failAfterMs: number,
    private readonly onTimeout: (message: OutgoingMessage) => void,
  ) {
    for (const message of storage.get<OutgoingMessage[]>(STORAGE_KEY) ?? []) this.entries.set(message.id, message);
  }

  /** Every message not acknowledged yet (sending or failed), oldest first. */
  all(): OutgoingMessage[] {
    return [...this.entries.values()];
  }

  add(roomid: string, text: string, to?: string): OutgoingMessage {
    const message: OutgoingMessage = { id: uuidv4(), roomid, ...(to ? { to } : {}), text, status: 'sending', createdAt: Date.now() };
    this.entries.set(message.id, message);
    this.save();
    if (this.running) this.arm(message);
    return message;
  }

  get(id: string): OutgoingMessage | undefined {
    return this.entries.get(id);
  }

  /** Sending, oldest first. */
  pending(roomid?: string): OutgoingMessage[] {
    return [...this.entries.values()].filter((m) => m.status === 'sending' && (roomid === undefined || m.roomid === roomid));
  }

  /** The server accepted it: it leaves the outbox. */
  acknowledge(id: string, seq: number): OutgoingMessage | undefined {
    const message = this.entries.get(id);
    if (!message) return undefined;
    this.disarm(id);
    this.entries.delete(id);
    this.save();
    return { ...message, status: 'sent', seq, errorCode: undefined };
  }

  fail(id: string, errorCode: number): OutgoingMessage | undefined {
    const message = this.entries.get(id);
    if (!message || message.status !== 'sending') return undefined;
    message.status = 'failed';
    message.errorCode = errorCode;
    this.disarm(id);
    this.save();
    return { ...message };
  }

  /** Sending again, with the same id. */
  retry(id: string): OutgoingMessage | undefined {
    const message = this.entries.get(id);
    if (!message || message.status !== 'failed') return undefined;
    message.status = 'sending';
    message.errorCode = undefined;
    this.save();
    if (this.running) this.arm(message);
    return { ...message };
  }

  /** A failed message the user gave up on. */
  discard(id: string): void {
    if (this.entries.get(id)?.status !== 'failed') return;
    this.entries.delete(id);
    this.save();
  }

  /** Connected: the failure timers run. */
  resume(): void {
    if (this.running) return;
    this.running = true;
    for (const message of this.pending()) this.arm(message);
  }

  /** Not connected: the timers stop, keeping what each message has waited so far. */
  pause(): void {
    if (!this.running) return;
    for (const [id, timer] of this.timers) {
      clearTimeout(timer);
      this.waited.set(id, (this.waited.get(id) ?? 0) + Date.now() - (this.armedAt.get(id) ?? Date.now()));
    }
    this.timers.clear();
    this.armedAt.clear();
    this.running = false;
  }

  private arm(message: OutgoingMessage): void {
    this.disarm(message.id, false);
    const left = Math.max(0, this.failAfterMs - (this.waited.get(message.id) ?? 0));
    this.armedAt.set(message.id, Date.now());
    this.timers.set(
      message.id,
      setTimeout(() => {
        this.timers.delete(message.id);
        this.armedAt.delete(message.id);
        const failed = this.fail(message.id, 0);
        if (failed) this.onTimeout(failed);
      }, left),
    );
  }

  /** Stops its timer; `forget` also drops the time it has waited (acked, failed, retried). */
  private disarm(id: string, forget = true): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    this.armedAt.delete(id);
    if (forget) this.waited.delete(id);
  }

  private save(): void {
    try {
      this.storage.set(STORAGE_KEY, [...this.entries.values()]);
    } catch {
      // Storage full: the message is still in memory and goes out while the app runs.
    }
  }
}
