/**
 * TLS material: the configured certificate (TLS_CERT/TLS_KEY), or a self-signed development
 * certificate generated into CERTS_DIR on first start and reused until it nears expiry.
 */

import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';
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
