/** A small JSON-over-HTTP(S) helper with keep-alive, for the login phase. */
import http from 'node:http';
import https from 'node:https';

const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 32 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 32, rejectUnauthorized: false }),
};

export function httpJson(method: string, url: URL, body?: unknown, timeoutMs = 10_000): Promise<{ status: number; json: unknown }> {
  const secure = url.protocol === 'https:';
  const mod = secure ? https : http;
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = mod.request(
      url,
      {
        method,
        agent: secure ? agents.https : agents.http,
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = text;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export function destroyAgents(): void {
  agents.http.destroy();
  agents.https.destroy();
}

/** Runs fn over items with at most `limit` in flight. */
export async function pool<T>(items: number, limit: number, fn: (i: number) => Promise<T>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items) }, async () => {
    while (next < items) {
      const i = next++;
      await fn(i);
    }
  });
  await Promise.all(workers);
}
