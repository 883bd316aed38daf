/** The JWT verification key: JWT_SECRET, JWT_PUBLIC_KEY's file, or a generated development secret. */

import { createPublicKey, type KeyObject } from 'node:crypto';
import { type Config, ConfigError, type JwtAlgorithm } from './config.ts';
import type { AuthSettings } from './core/auth.ts';
import { joinPath, type Platform } from './platform.ts';

const DEV_SECRET_FILE = 'dev-jwt-secret';

export async function resolveAuthSettings(config: Config, platform: Platform): Promise<AuthSettings> {
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
      key = await platform.readTextFile(config.jwtPublicKey);
    } catch (err) {
      throw new ConfigError('JWT_PUBLIC_KEY', `cannot read ${config.jwtPublicKey}: ${(err as Error).message}`);
    }
    if (!key.includes('PUBLIC KEY') && !key.includes('CERTIFICATE')) {
      throw new ConfigError('JWT_PUBLIC_KEY', `${config.jwtPublicKey} is not a PEM public key`);
    }
    checkPublicKey(config.jwtPublicKey, key, config.jwtAlgorithm);
    return { ...common, verifyKey: key };
  }
  const secret = config.jwtSecret ?? (await developmentSecret(platform, config.certsDir));
  return { ...common, verifyKey: secret, signKey: config.devLogin ? secret : undefined };
}

/**
 * A key that cannot be read, or is of the wrong kind for the algorithm, stops start-up: otherwise
 * every token would be refused later, one handshake at a time.
 */
function checkPublicKey(path: string, pem: string, algorithm: JwtAlgorithm): void {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new ConfigError('JWT_PUBLIC_KEY', `${path} is not a readable PEM public key: ${(err as Error).message}`);
  }
  const wanted = algorithm.startsWith('ES') ? ['ec'] : ['rsa', 'rsa-pss'];
  if (!wanted.includes(key.asymmetricKeyType ?? '')) {
    throw new ConfigError('JWT_PUBLIC_KEY', `${path} holds a ${key.asymmetricKeyType} key, which ${algorithm} (JWT_ALGORITHM) cannot verify with`);
  }
}

/** A random secret generated once into CERTS_DIR, so tokens survive a restart of a development server. */
async function developmentSecret(platform: Platform, certsDir: string): Promise<string> {
  const path = joinPath(certsDir, DEV_SECRET_FILE);
  if (await platform.fileExists(path)) return (await platform.readTextFile(path)).trim();
  await platform.mkdir(certsDir);
  const bytes = crypto.getRandomValues(new Uint8Array(48));
  const secret = btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
  await platform.writeFileAtomic(path, new TextEncoder().encode(secret), 0o600);
  return secret;
}
