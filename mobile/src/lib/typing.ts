/** A client sends `typing` at most this often while the user types (the server passes on one per 3 s). */
export const TYPING_SEND_INTERVAL_MS = 3_000;
/** "对方正在输入…" stays this long after the last `typing` event. */
export const TYPING_SHOW_MS = 5_000;

/** Throttles "I am typing" to one frame per interval per peer. */
export class TypingSender {
  private readonly lastAt = new Map<string, number>();

  constructor(
    private readonly send: (to: string) => boolean,
    private readonly intervalMs = TYPING_SEND_INTERVAL_MS,
  ) {}

  /** The user typed in the direct chat with `to`; true when a frame went out. */
  typed(to: string, now = Date.now()): boolean {
    const last = this.lastAt.get(to);
    if (last !== undefined && now - last < this.intervalMs) return false;
    if (!this.send(to)) return false;
    this.lastAt.set(to, now);
    return true;
  }
}

/**
 * Who is typing where, for "对方正在输入…": a room is typing for `showMs` after its last event, or
 * until a message from the typist arrives. `changed` is called when a room starts or stops.
 */
export class TypingIndicator {
  private readonly until = new Map<string, { uid: string; timer: ReturnType<typeof setTimeout> }>();

  constructor(
    private readonly changed: (roomid: string, typing: boolean) => void,
    private readonly showMs = TYPING_SHOW_MS,
  ) {}

  isTyping(roomid: string): boolean {
    return this.until.has(roomid);
  }

  typing(roomid: string, uid: string): void {
    const current = this.until.get(roomid);
    if (current) clearTimeout(current.timer);
    this.until.set(roomid, { uid, timer: setTimeout(() => this.stop(roomid), this.showMs) });
    if (!current) this.changed(roomid, true);
  }

  /** A message arrived: from the typist, the indicator ends. */
  message(roomid: string, uid: string): void {
    if (this.until.get(roomid)?.uid === uid) this.stop(roomid);
  }

  stop(roomid: string): void {
    const current = this.until.get(roomid);
    if (!current) return;
    clearTimeout(current.timer);
    this.until.delete(roomid);
    this.changed(roomid, false);
  }
}
