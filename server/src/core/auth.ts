/**
 * Token verification and the development token issuer. The accepted algorithm is pinned by
 * configuration: a token signed with any other (including `none`) is refused, which also closes the
 * RS256-public-key-as-HS256-secret confusion.
 */

import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { v4 as uuidv4 } from 'uuid';
import type { JwtAlgorithm } from '../config.ts';
import { NAME_MAX_LENGTH } from '../protocol.ts';

export interface Identity {
  uid: string;
  name: string;
  /** ms since the epoch. */
  expiresAt: number;
}

export interface AuthSettings {
  algorithm: JwtAlgorithm;
  /** HS* secret, or the PEM public key for RS256/ES256. */
  verifyKey: string;
  /** HS* only: the development issuer signs with the same secret. */
  signKey?: string;
  issuer?: string;
  audience?: string;
  tokenTtlSeconds: number;
  /** Lifetime of the refresh credential the development login hands out with each token. */
  refreshTtlSeconds: number;
}

export type VerifyResult = { ok: true; identity: Identity } | { ok: false; expired: boolean; reason: string };

export const UID_PATTERN = /^[\w\-.:@]{1,64}$/;

/**
 * Characters a name may not carry: controls, and everything Unicode says to draw as nothing
 * (zero-width spaces and joiners, direction marks and overrides, Hangul fillers, variation
 * selectors), plus the blank braille pattern. With them one user could look exactly like another.
 */
const INVISIBLE = /[\p{Cc}\p{Default_Ignorable_Code_Point}\u2800]/gu;

/**
 * A display name as shown to others: NFKC-normalised (full-width and compatibility forms fold to
 * their plain letters), invisible characters removed, runs of white space made one space. At most
 * `maxChars` code points (NAME_MAX_LENGTH; a room's title uses it too); undefined when nothing
 * visible is left or it is too long.
 */
export function cleanName(raw: unknown, maxChars = NAME_MAX_LENGTH): string | undefined {
  if (typeof raw !== 'string' || raw.length > maxChars * 8) return undefined;
  const name = raw.normalize('NFKC').replace(INVISIBLE, '').replace(/\s+/gu, ' ').trim();
  if (name.length === 0 || [...name].length > maxChars) return undefined;
  return name;
}

export class Authenticator {
  /**
   * The keys as KeyObjects, made once. Handed a string, jsonwebtoken first tries to read it as a
   * PEM public key and, for an HS* secret, fails and falls back to a secret key, on every call:
   * about 340 µs of OpenSSL decoder set-up per handshake against 6.5 µs with the KeyObject, which
   * in a reconnect storm is most of what a handshake costs.
   */
  private readonly verifyKey: KeyObject;
  private readonly signKey: KeyObject | undefined;

  constructor(private readonly settings: AuthSettings) {
    const hmac = settings.algorithm.startsWith('HS');
    this.verifyKey = hmac ? createSecretKey(Buffer.from(settings.verifyKey)) : createPublicKey(settings.verifyKey);
    this.signKey = settings.signKey === undefined ? undefined : createSecretKey(Buffer.from(settings.signKey));
  }

  verify(token: unknown): VerifyResult {
    if (typeof token !== 'string' || token.length === 0 || token.length > 8192) {
      return { ok: false, expired: false, reason: 'missing token' };
    }
    let payload: jwt.JwtPayload | string;
    try {
      payload = jwt.verify(token, this.verifyKey, {
        algorithms: [this.settings.algorithm],
        issuer: this.settings.issuer,
        audience: this.settings.audience,
      });
    } catch (err) {
      if (err instanceof jwt.TokenExpiredError) return { ok: false, expired: true, reason: 'token expired' };
      return { ok: false, expired: false, reason: err instanceof Error ? err.message : 'invalid token' };
    }
    if (typeof payload === 'string') return { ok: false, expired: false, reason: 'token payload is not an object' };
    // A refresh credential only buys a new token at /api/login; it never opens a connection.
    if (payload.typ === REFRESH_TYPE) return { ok: false, expired: false, reason: 'a refresh credential is not an access token' };
    const uid = payload.sub ?? payload.uid;
    const name = cleanName(payload.name ?? uid);
    if (typeof uid !== 'string' || !UID_PATTERN.test(uid)) return { ok: false, expired: false, reason: 'token has no valid sub' };
    if (!name) return { ok: false, expired: false, reason: 'token has no valid name' };
    if (typeof payload.exp !== 'number') return { ok: false, expired: false, reason: 'token has no exp' };
    return { ok: true, identity: { uid, name, expiresAt: payload.exp * 1000 } };
  }

  get canIssue(): boolean {
    return this.signKey !== undefined;
  }

  /**
   * Development login: a token for `name` and a refresh credential for the same uid. The uid is the
   * server's choice: a fresh one, or the one a valid refresh credential names (`refreshedUid`), so a
   * client can keep only an account it was given.
   */
  issue(name: string, refreshedUid?: string): LoginGrant {
    const signKey = this.signKey;
    if (!signKey) throw new Error('this server does not issue tokens');
    const uid = refreshedUid ?? uuidv4();
    const options: jwt.SignOptions = { algorithm: this.settings.algorithm, subject: uid, expiresIn: this.settings.tokenTtlSeconds };
    if (this.settings.issuer) options.issuer = this.settings.issuer;
    if (this.settings.audience) options.audience = this.settings.audience;
    const token = jwt.sign({ name }, signKey, options);
    const refreshToken = jwt.sign({ typ: REFRESH_TYPE }, signKey, {
      algorithm: this.settings.algorithm,
      subject: uid,
      expiresIn: this.settings.refreshTtlSeconds,
    });
    const { exp } = jwt.decode(token) as jwt.JwtPayload;
    return { token, uid, name, expiresAt: (exp as number) * 1000, refreshToken };
  }

  /** The uid a refresh credential from `issue` names, or why it names none. */
  refreshedUid(credential: unknown): { ok: true; uid: string } | { ok: false; reason: string } {
    const signKey = this.signKey;
    if (!signKey) return { ok: false, reason: 'this server does not issue tokens' };
    if (typeof credential !== 'string' || credential.length === 0 || credential.length > 8192) return { ok: false, reason: 'missing refresh credential' };
    let payload: jwt.JwtPayload | string;
    try {
      payload = jwt.verify(credential, signKey, { algorithms: [this.settings.algorithm] });
    } catch (err) {
      return { ok: false, reason: err instanceof jwt.TokenExpiredError ? 'refresh credential expired' : 'invalid refresh credential' };
    }
    if (typeof payload === 'string' || payload.typ !== REFRESH_TYPE || !isValidUid(payload.sub)) return { ok: false, reason: 'invalid refresh credential' };
    return { ok: true, uid: payload.sub };
  }
}

export interface LoginGrant {
  token: string;
  uid: string;
  name: string;
  expiresAt: number;
  refreshToken: string;
}

/** The `typ` claim of refresh credentials: never accepted where an access token is expected. */
const REFRESH_TYPE = 'chatroom-refresh';

export function isValidUid(uid: unknown): uid is string {
  return typeof uid === 'string' && UID_PATTERN.test(uid);
}
