/**
 * TLS material: the configured certificate (TLS_CERT/TLS_KEY), or a self-signed development
 * certificate generated into CERTS_DIR on first start and reused until it nears expiry. Files go
 * through the Platform; certificates are read with the X.509 parser both runtimes have
 * (node:crypto, which Deno provides too).
 */

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';
import { ConfigError } from './config.ts';
import type { Logger } from './core/logger.ts';
import { FileError, joinPath, type Platform } from './platform.ts';

export interface TlsMaterial {
  cert: string;
  key: string;
  source: 'configured' | 'development';
  certPath: string;
  keyPath: string;
  subject: string;
  validTo: Date;
}

const DEV_CERT = 'dev-cert.pem';
const DEV_KEY = 'dev-key.pem';
const DEV_VALID_DAYS = 825;
/** Regenerate a development certificate with less than this left. */
const RENEW_BEFORE_MS = 14 * 24 * 3600 * 1000;

export function describeCertificate(pem: string): { subject: string; validTo: Date } {
  const x509 = new X509Certificate(pem);
  return { subject: x509.subjectAltName ?? x509.subject, validTo: new Date(x509.validTo) };
}

/** Throws when `key` is not a private key, or not the one of `cert`. */
function checkPair(cert: string, key: string): void {
  if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) throw new Error('the key does not belong to the certificate');
}

async function readPair(platform: Platform, certPath: string, keyPath: string): Promise<TlsMaterial> {
  const cert = await platform.readTextFile(certPath);
  const key = await platform.readTextFile(keyPath);
  checkPair(cert, key);
  return { cert, key, source: 'configured', certPath, keyPath, ...describeCertificate(cert) };
}

/**
 * The configured certificate at start-up: a file that is missing, unreadable (Let's Encrypt's
 * private key is root's alone until its group is given access) or not PEM, or a key that is not
 * the certificate's, is a configuration error naming the variable.
 */
export async function readConfiguredTls(platform: Platform, certPath: string, keyPath: string): Promise<TlsMaterial> {
  const read = async (variable: string, path: string): Promise<string> => {
    try {
      return await platform.readTextFile(path);
    } catch (err) {
      const why =
        err instanceof FileError && err.reason === 'denied' ? 'permission denied (the server runs as a user that cannot read it)' : (err as Error).message;
      throw new ConfigError(variable, `cannot read ${path}: ${why}`);
    }
  };
  const cert = await read('TLS_CERT', certPath);
  const key = await read('TLS_KEY', keyPath);
  let described: { subject: string; validTo: Date };
  try {
    described = describeCertificate(cert);
  } catch {
    throw new ConfigError('TLS_CERT', `${certPath} is not a PEM certificate`);
  }
  try {
    checkPair(cert, key);
  } catch (err) {
    throw new ConfigError('TLS_KEY', `${keyPath} is not the private key of ${certPath}: ${(err as Error).message}`);
  }
  return { cert, key, source: 'configured', certPath, keyPath, ...described };
}

export async function ensureDevCertificate(platform: Platform, certsDir: string, logger: Logger): Promise<TlsMaterial> {
  const certPath = joinPath(certsDir, DEV_CERT);
  const keyPath = joinPath(certsDir, DEV_KEY);
  if ((await platform.fileExists(certPath)) && (await platform.fileExists(keyPath))) {
    const material = { ...(await readPair(platform, certPath, keyPath)), source: 'development' as const };
    if (material.validTo.getTime() - Date.now() > RENEW_BEFORE_MS) return material;
    logger.info('development certificate expires soon; generating a new one', { validTo: material.validTo.toISOString() });
  }
  await platform.mkdir(certsDir);
  const notBeforeDate = new Date(Date.now() - 60_000);
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + DEV_VALID_DAYS * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  const encoder = new TextEncoder();
  await platform.writeFileAtomic(keyPath, encoder.encode(pems.private), 0o600);
  await platform.writeFileAtomic(certPath, encoder.encode(pems.cert), 0o644);
  logger.info('generated a development certificate', { certPath });
  return { cert: pems.cert, key: pems.private, source: 'development', certPath, keyPath, ...describeCertificate(pems.cert) };
}

/**
 * Watches the configured certificate files and hands a renewed, valid pair to `apply`. Existing
 * connections keep the context they were made with; new handshakes get the new one. Returns a
 * stop function.
 */
export function watchCertificate(
  platform: Platform,
  material: TlsMaterial,
  intervalMs: number,
  apply: (next: TlsMaterial) => void,
  logger: Logger,
): () => void {
  let current = material;
  let checking = false;
  const check = async (): Promise<void> => {
    if (checking) return;
    checking = true;
    try {
      let next: TlsMaterial;
      try {
        next = await readPair(platform, material.certPath, material.keyPath);
      } catch (err) {
        // Mid-renewal the certificate and key may not match yet; the next poll sees the finished pair.
        logger.warn('renewed tls certificate not usable yet; keeping the current one', { path: material.certPath, reason: (err as Error).message });
        return;
      }
      if (next.cert === current.cert && next.key === current.key) return;
      current = next;
      apply(next);
      logger.info('tls certificate reloaded', { path: next.certPath, subject: next.subject, validTo: next.validTo.toISOString() });
    } finally {
      checking = false;
    }
  };
  return platform.watchFiles([material.certPath, material.keyPath], intervalMs, () => void check());
}
