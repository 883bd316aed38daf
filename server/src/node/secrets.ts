/** The JWT verification key: JWT_SECRET, JWT_PUBLIC_KEY's file, or a generated development secret. */

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type Config } from '../config.ts';
import type { AuthSettings } from '../core/auth.ts';

const DEV_SECRET_FILE = 'dev-jwt-secret';

export function resolveAuthSettings(config: Config): AuthSettings {
  const common = {
    algorithm: config.jwtAlgorithm,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    tokenTtlSeconds: config.tokenTtlSeconds,
    refreshTtlSeconds: config.refreshTtlSeconds,
  };
  if (config.jwtPublicKey) {
    let key: string;
    try {
      key = readFileSync(config.jwtPublicKey, 'utf8');
    } catch (err) {
      throw new ConfigError('JWT_PUBLIC_KEY', `cannot read ${config.jwtPublicKey}: ${(err as Error).message}`);
    }
    if (!key.includes('PUBLIC KEY') && !key.includes('CERTIFICATE')) {
      throw new ConfigError('JWT_PUBLIC_KEY', `${config.jwtPublicKey} is not a PEM public key`);
    }
    return { ...common, verifyKey: key };
  }
  const secret = config.jwtSecret ?? developmentSecret(config.certsDir);
  return { ...common, verifyKey: secret, signKey: config.devLogin ? secret : undefined };
}

function developmentSecret(certsDir: string): string {
  const path = join(certsDir, DEV_SECRET_FILE);
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  mkdirSync(certsDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(path, secret, { mode: 0o600 });
  return secret;
}
