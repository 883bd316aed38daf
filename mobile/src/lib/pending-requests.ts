/** A request's code when no connection could carry it (not a protocol code: the request was never sent). */
export const NOT_CONNECTED = -1;

/** A request the server refused (`code`: ErrorCode, with `until` for 4416), or that no connection carried. */
export class RequestFailed extends Error {
  constructor(
    readonly code: number,
    readonly until?: number,
    message = `request failed with ${code}`,
  ) {
    super(message);
    this.name = 'RequestFailed';
  }
}

interface Waiter {
  resolve: (reply: never) => void;
  reject: (error: RequestFailed) => void;
}

/**
 * Requests the user made and waits on (a group change, a join by invite link), by key: the reply
 * resolves them, an error rejects them, and the end of the socket rejects all of them, since their
 * replies can no longer come. Unlike messages these are not queued across reconnects: the user sees
 * at once that it did not work and may try again.
 */
export class PendingRequests {
  private readonly waiters = new Map<string, Waiter[]>();

  wait<R>(key: string): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const list = this.waiters.get(key) ?? [];
      list.push({ resolve: resolve as (reply: never) => void, reject });
      this.waiters.set(key, list);
    });
  }

  has(key: string): boolean {
    return this.waiters.has(key);
  }

  resolve(key: string | undefined, reply: unknown): void {
    const list = key === undefined ? undefined : this.waiters.get(key);
    if (!list) return;
    this.waiters.delete(key!);
    for (const waiter of list) waiter.resolve(reply as never);
  }

  reject(key: string | undefined, error: RequestFailed): void {
    const list = key === undefined ? undefined : this.waiters.get(key);
    if (!list) return;
    this.waiters.delete(key!);
    for (const waiter of list) waiter.reject(error);
  }

  rejectAll(error: RequestFailed): void {
    const all = [...this.waiters.values()].flat();
    this.waiters.clear();
    for (const waiter of all) waiter.reject(error);
  }
}
