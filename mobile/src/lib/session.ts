import type { LoginResponse } from '@chatroom/server/protocol';
import type { KeyValueStorage } from './storage';
import type { TokenSource } from './token-source';

/** POSTs JSON and resolves with the parsed JSON body; rejects on a non-2xx status. */
export type HttpPost = <T>(url: string, body: unknown) => Promise<T>;

export interface Session extends LoginResponse {
  /** The avatar colour picked at login (local only: the protocol carries no avatar). */
  color: string;
}

const SESSION_KEY = 'chat.session';

/** The signed-in user and their token, kept in storage; `refresh` logs in again with the same name. */
export class SessionStore implements TokenSource {
  private session: Session | undefined;

  constructor(
    private readonly storage: KeyValueStorage,
    private readonly post: HttpPost,
    /** `https://host`; a function when it is only known later (typed in on the login page). */
    private readonly apiBase: string | (() => string),
  ) {
    this.session = storage.get<Session>(SESSION_KEY);
  }

  get value(): Session | undefined {
    return this.session;
  }

  async login(name: string, color: string): Promise<Session> {
    const response = await this.post<LoginResponse>(`${this.base()}/api/login`, { name });
    this.session = { ...response, color };
    this.storage.set(SESSION_KEY, this.session);
    return this.session;
  }

  private base(): string {
    return typeof this.apiBase === 'string' ? this.apiBase : this.apiBase();
  }

  logout(): void {
    this.session = undefined;
    this.storage.remove(SESSION_KEY);
  }

  current(): string | undefined {
    return this.session?.token;
  }

  uid(): string | undefined {
    return this.session?.uid;
  }

  async refresh(): Promise<string> {
    const session = this.session;
    if (!session) throw new Error('not signed in');
    // The refresh credential from the last login keeps the same account (the server picks uids).
    const response = await this.post<LoginResponse>(`${this.base()}/api/login`, {
      name: session.name,
      refreshToken: session.refreshToken,
    });
    this.session = { ...session, ...response };
    this.storage.set(SESSION_KEY, this.session);
    return response.token;
  }
}
