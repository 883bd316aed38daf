/**
 * TLS material: the configured certificate (TLS_CERT/TLS_KEY), or a self-signed development
 * certificate generated into CERTS_DIR on first start and reused until it nears expiry.
 */

import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, unwatchFile, watchFile, writeFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { ConfigError } from '../config.ts';
import type { Logger } from '../core/logger.ts';

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

export function readTlsFiles(certPath: string, keyPath: string): TlsMaterial {
  const cert = readFileSync(certPath, 'utf8');
  const key = readFileSync(keyPath, 'utf8');
  return { cert, key, source: 'configured', certPath, keyPath, ...describeCertificate(cert) };
}

/**
 * The configured certificate at start-up: a file that is missing, unreadable (Let's Encrypt's
 * private key is root's alone until its group is given access) or not PEM is a configuration
 * error naming the variable.
 */
export function readConfiguredTls(certPath: string, keyPath: string): TlsMaterial {
  const read = (variable: string, path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'EACCES' ? 'permission denied (the server runs as a user that cannot read it)' : code === 'ENOENT' ? 'no such file' : (err as Error).message;
      throw new ConfigError(variable, `cannot read ${path}: ${why}`);
    }
  };
  const cert = read('TLS_CERT', certPath);
  const key = read('TLS_KEY', keyPath);
  let described: { subject: string; validTo: Date };
  try {
    described = describeCertificate(cert);
  } catch {
    throw new ConfigError('TLS_CERT', `${certPath} is not a PEM certificate`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new ConfigError('TLS_KEY', `${keyPath} is not the private key of ${certPath}: ${(err as Error).message}`);
  }
  return { cert, key, source: 'configured', certPath, keyPath, ...described };
}

export async function ensureDevCertificate(certsDir: string, logger: Logger): Promise<TlsMaterial> {
  const certPath = join(certsDir, DEV_CERT);
  const keyPath = join(certsDir, DEV_KEY);
  if (existsSync(certPath) && existsSync(keyPath)) {
    const material = { ...readTlsFiles(certPath, keyPath), source: 'development' as const };
    if (material.validTo.getTime() - Date.now() > RENEW_BEFORE_MS) return material;
    logger.info('development certificate expires soon; generating a new one', { validTo: material.validTo.toISOString() });
  }
  mkdirSync(certsDir, { recursive: true });
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
  writeFileSync(keyPath, pems.private, { mode: 0o600 });
  writeFileSync(certPath, pems.cert, { mode: 0o644 });
  logger.info('generated a development certificate', { certPath });
  return { cert: pems.cert, key: pems.private, source: 'development', certPath, keyPath, ...describeCertificate(pems.cert) };
}

/**
 * Watches the configured certificate files (polling stat: renewals replace symlinks, which
 * fs.watch misses) and hands a renewed, valid pair to `apply`. Existing connections keep the
 * context they were made with; new handshakes get the new one. Returns a stop function.
 */
export function watchCertificate(
  material: TlsMaterial,
  intervalMs: number,
  apply: (next: TlsMaterial) => void,
  logger: Logger,
): () => void {
  let current = material;
  const check = (): void => {
    let next: TlsMaterial;
    try {
      next = readTlsFiles(material.certPath, material.keyPath);
    } catch (err) {
      logger.warn('tls certificate unreadable; keeping the current one', { path: material.certPath, reason: (err as Error).message });
      return;
    }
    if (next.cert === current.cert && next.key === current.key) return;
    try {
      createSecureContext({ cert: next.cert, key: next.key });
    } catch (err) {
      // Mid-renewal the certificate and key may not match yet; the next poll sees the finished pair.
      logger.warn('renewed tls certificate not usable yet', { path: material.certPath, reason: (err as Error).message });
      return;
    }
    current = next;
    apply(next);
    logger.info('tls certificate reloaded', { path: next.certPath, subject: next.subject, validTo: next.validTo.toISOString() });
  };
  watchFile(material.certPath, { interval: intervalMs, persistent: false }, check);
  watchFile(material.keyPath, { interval: intervalMs, persistent: false }, check);
  return () => {
    unwatchFile(material.certPath, check);
    unwatchFile(material.keyPath, check);
  };
}
