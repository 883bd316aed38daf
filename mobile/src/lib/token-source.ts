/** Where the client gets its token: the stored one, and a fresh one before it expires or when the server says `noauth`. */
export interface TokenSource {
  current(): string | undefined;
  /** When the current token expires (ms since the epoch), when known. */
  expiresAt(): number | undefined;
  /** The signed-in user, to tell own messages and direct-chat peers apart. */
  uid(): string | undefined;
  /** A fresh token; rejects with CredentialsRejected when no new one can ever come without a new sign-in. */
  refresh(): Promise<string>;
}

/** Renewal is impossible: no refresh credential, or the server refused it (or has no login at all). */
export class CredentialsRejected extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'CredentialsRejected';
  }
}
