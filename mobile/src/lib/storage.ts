/** Key-value persistence: uni storage in the app, a Map in tests. Values are JSON. */
export interface KeyValueStorage {
  get<T>(key: string): T | undefined;
  /** Throws when the platform refuses the write (storage full: WeChat 10 MB, a browser's quota). */
  set(key: string, value: unknown): void;
  remove(key: string): void;
  keys(): string[];
}

export class MemoryStorage implements KeyValueStorage {
  private readonly map = new Map<string, string>();

  get<T>(key: string): T | undefined {
    const raw = this.map.get(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  }

  set(key: string, value: unknown): void {
    this.map.set(key, JSON.stringify(value));
  }

  remove(key: string): void {
    this.map.delete(key);
  }

  keys(): string[] {
    return [...this.map.keys()];
  }
}

/** The keys of one prefix of another storage: `chat.u.<uid>.` holds everything of one user. */
export class ScopedStorage implements KeyValueStorage {
  constructor(
    private readonly base: KeyValueStorage,
    readonly prefix: string,
  ) {}

  get<T>(key: string): T | undefined {
    return this.base.get<T>(this.prefix + key);
  }

  set(key: string, value: unknown): void {
    this.base.set(this.prefix + key, value);
  }

  remove(key: string): void {
    this.base.remove(this.prefix + key);
  }

  keys(): string[] {
    return this.base.keys().filter((k) => k.startsWith(this.prefix)).map((k) => k.slice(this.prefix.length));
  }

  /** Removes every key of this scope. */
  clear(): void {
    for (const key of this.keys()) this.remove(key);
  }
}

const USER_PREFIX = 'chat.u.';

/** Where one user's rooms, messages, cursors and outbox live. */
export function userStorage(base: KeyValueStorage, uid: string): ScopedStorage {
  return new ScopedStorage(base, `${USER_PREFIX}${uid}.`);
}

/** Keys of the first client versions, which were not per user (rooms, cursors, epochs). */
const UNSCOPED_KEYS = ['chat.rooms', 'chat.cursors', 'chat.epochs'];

/**
 * Forgets every user but `keepUid` (all users when undefined): on sign-out, and before a sign-in as
 * someone else, so a shared phone shows nothing of the previous user and never joins their rooms.
 */
export function forgetOtherUsers(base: KeyValueStorage, keepUid?: string): void {
  const keep = keepUid === undefined ? undefined : `${USER_PREFIX}${keepUid}.`;
  for (const key of base.keys()) {
    if ((key.startsWith(USER_PREFIX) && (keep === undefined || !key.startsWith(keep))) || UNSCOPED_KEYS.includes(key)) base.remove(key);
  }
}

/** UTF-8 bytes of a string: what storage limits are counted in (the platforms count bytes, not characters). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4;
      i += 1;
    } else bytes += 3;
  }
  return bytes;
}
