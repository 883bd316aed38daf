/** Where the client gets its token: the stored one, and a fresh one when the server says `noauth`. */
export interface TokenSource {
  current(): string | undefined;
  /** The signed-in user, to tell own messages and direct-chat peers apart. */
  uid(): string | undefined;
  refresh(): Promise<string>;
}
