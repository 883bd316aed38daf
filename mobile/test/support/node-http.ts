import { request } from 'node:https';
import { HttpError, type HttpPost } from '../../src/lib/session';

/** The app's HttpPost over node:https, trusting the dev server's certificate. */
export function nodePost(ca: string | undefined, onCall?: (url: string, body: unknown) => void): HttpPost {
  return <T>(url: string, body: unknown) =>
    new Promise<T>((resolve, reject) => {
      onCall?.(url, body);
      const req = request(url, { method: 'POST', ca, headers: { 'content-type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 0) >= 300) reject(new HttpError(res.statusCode ?? 0, `HTTP ${res.statusCode}: ${text}`));
          else resolve(JSON.parse(text) as T);
        });
      });
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
}
