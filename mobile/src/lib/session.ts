import type { LoginResponse } from '@chatroom/server/protocol';
import type { KeyValueStorage } from './storage';
import { CredentialsRejected, type TokenSource } from './token-source';

/** POSTs JSON and resolves with the parsed JSON body; rejects with HttpError on a non-2xx status. */
export type HttpPost = <T>(url: string, body: unknown) => Promise<T>;

/** A reply with a status outside 2xx; a failure without one (no network) is any other Error. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface Session extends LoginResponse {
  /** The avatar colour picked at login (local only: the protocol carries no avatar). */
  color: string;
}

const SESSION_KEY = 'chat.session';
/**
 * Statuses of POST /api/login after which asking again cannot help: 401 the refresh credential is
 * invalid or expired, 404 the development login is off (production), 400/403 refused as such.
 */
const FINAL_STATUSES = new Set([400, 401, 403, 404]);

/** The signed-in user and their token, kept in storage; `refresh` renews the same account with its refresh credential. */
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

  expiresAt(): number | undefined {
    return this.session?.expiresAt;
  }

  uid(): string | undefined {
    return this.session?.uid;
  }

  async refresh(): Promise<string> {
    const session = this.session;
    if (!session) throw new CredentialsRejected('not signed in');
    if (!session.refreshToken) throw new CredentialsRejected('no refresh credential');
    let response: LoginResponse;
    try {
      // The refresh credential from the last login keeps the same account (the server picks uids).
      response = await this.post<LoginResponse>(`${this.base()}/api/login`, { name: session.name, refreshToken: session.refreshToken });
    } catch (err) {
      if (err instanceof HttpError && FINAL_STATUSES.has(err.status)) throw new CredentialsRejected(err.message);
      throw err;
    }
    // Signed out meanwhile: this renewal belongs to nobody.
    if (this.session !== session) throw new CredentialsRejected('signed out');
    this.session = { ...session, ...response };
    this.storage.set(SESSION_KEY, this.session);
    return response.token;
  }
}
