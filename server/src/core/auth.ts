/**
 * Token verification and the development token issuer. The accepted algorithm is pinned by
 * configuration: a token signed with any other (including `none`) is refused, which also closes the
 * RS256-public-key-as-HS256-secret confusion.
 */

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
}

export type VerifyResult = { ok: true; identity: Identity } | { ok: false; expired: boolean; reason: string };

const UID_PATTERN = /^[\w\-.:@]{1,64}$/;

export function cleanName(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  // Control characters and direction overrides make names that lie about themselves.
  const name = raw.replace(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/g, '').trim();
  if (name.length === 0 || [...name].length > NAME_MAX_LENGTH) return undefined;
  return name;
}

export class Authenticator {
  constructor(private readonly settings: AuthSettings) {}

  verify(token: unknown): VerifyResult {
    if (typeof token !== 'string' || token.length === 0 || token.length > 8192) {
      return { ok: false, expired: false, reason: 'missing token' };
    }
    let payload: jwt.JwtPayload | string;
    try {
      payload = jwt.verify(token, this.settings.verifyKey, {
        algorithms: [this.settings.algorithm],
        issuer: this.settings.issuer,
        audience: this.settings.audience,
      });
    } catch (err) {
      if (err instanceof jwt.TokenExpiredError) return { ok: false, expired: true, reason: 'token expired' };
      return { ok: false, expired: false, reason: err instanceof Error ? err.message : 'invalid token' };
    }
    if (typeof payload === 'string') return { ok: false, expired: false, reason: 'token payload is not an object' };
    const uid = payload.sub ?? payload.uid;
    const name = cleanName(payload.name ?? uid);
    if (typeof uid !== 'string' || !UID_PATTERN.test(uid)) return { ok: false, expired: false, reason: 'token has no valid sub' };
    if (!name) return { ok: false, expired: false, reason: 'token has no valid name' };
    if (typeof payload.exp !== 'number') return { ok: false, expired: false, reason: 'token has no exp' };
    return { ok: true, identity: { uid, name, expiresAt: payload.exp * 1000 } };
  }

  get canIssue(): boolean {
    return this.settings.signKey !== undefined;
  }

  /** Development login: a token for `name`, with a fresh uid unless one is given. */
  issue(name: string, uid: string = uuidv4()): { token: string; uid: string; name: string; expiresAt: number } {
    if (!this.settings.signKey) throw new Error('this server does not issue tokens');
    const options: jwt.SignOptions = { algorithm: this.settings.algorithm, subject: uid, expiresIn: this.settings.tokenTtlSeconds };
    if (this.settings.issuer) options.issuer = this.settings.issuer;
    if (this.settings.audience) options.audience = this.settings.audience;
    const token = jwt.sign({ name }, this.settings.signKey, options);
    const { exp } = jwt.decode(token) as jwt.JwtPayload;
    return { token, uid, name, expiresAt: (exp as number) * 1000 };
  }
}

export function isValidUid(uid: unknown): uid is string {
  return typeof uid === 'string' && UID_PATTERN.test(uid);
}
