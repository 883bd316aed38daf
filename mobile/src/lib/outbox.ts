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
  /** Why it failed, when the server said so. */
  error?: string;
}

/**
 * Messages the server has not acknowledged yet. Each one keeps its id across resends (the server
 * drops a repeated id, so a resend after a reconnect cannot duplicate it) and fails only after
 * `failAfterMs` without an ack; `retry` gives it another period.
 */
export class Outbox {
  private readonly entries = new Map<string, OutgoingMessage>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(
    private readonly failAfterMs: number,
    private readonly onFailed: (message: OutgoingMessage) => void,
  ) {}

  add(roomid: string, text: string, to?: string): OutgoingMessage {
    const message: OutgoingMessage = { id: uuidv4(), roomid, to, text, status: 'sending', createdAt: Date.now() };
    this.entries.set(message.id, message);
    this.armFailure(message);
    return message;
  }

  get(id: string): OutgoingMessage | undefined {
    return this.entries.get(id);
  }

  /** Sending, oldest first. */
  pending(roomid?: string): OutgoingMessage[] {
    return [...this.entries.values()].filter(
      (m) => m.status === 'sending' && (roomid === undefined || m.roomid === roomid),
    );
  }

  /** The server accepted it: it leaves the outbox. */
  acknowledge(id: string, seq: number): OutgoingMessage | undefined {
    const message = this.entries.get(id);
    if (!message) return undefined;
    message.status = 'sent';
    message.seq = seq;
    this.clearTimer(id);
    this.entries.delete(id);
    return message;
  }

  fail(id: string, error: string): OutgoingMessage | undefined {
    const message = this.entries.get(id);
    if (!message || message.status !== 'sending') return undefined;
    message.status = 'failed';
    message.error = error;
    this.clearTimer(id);
    return message;
  }

  /** Sending again, with the same id. */
  retry(id: string): OutgoingMessage | undefined {
    const message = this.entries.get(id);
    if (!message || message.status !== 'failed') return undefined;
    message.status = 'sending';
    message.error = undefined;
    this.armFailure(message);
    return message;
  }

  private armFailure(message: OutgoingMessage): void {
    this.clearTimer(message.id);
    this.timers.set(
      message.id,
      setTimeout(() => {
        this.timers.delete(message.id);
        const failed = this.fail(message.id, 'timeout');
        if (failed) this.onFailed(failed);
      }, this.failAfterMs),
    );
  }

  private clearTimer(id: string): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }
}
