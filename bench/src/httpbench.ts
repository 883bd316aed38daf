/** The HTTP side with autocannon: GET /healthz and POST /api/login. */
import autocannon from 'autocannon';

export interface HttpBenchResult {
  path: string;
  method: string;
  requestsPerSec: number;
  latencyP50: number;
  latencyP99: number;
  latencyMax: number;
  errors: number;
  non2xx: number;
  total: number;
  table: string;
}

export async function httpBench(baseUrl: string, durationS = 5, connections = 32): Promise<HttpBenchResult[]> {
  const out: HttpBenchResult[] = [];
  const targets = [
    { method: 'GET', path: '/healthz' },
    { method: 'POST', path: '/api/login', body: JSON.stringify({ name: 'autocannon' }), headers: { 'content-type': 'application/json' } },
  ];
  for (const t of targets) {
    const url = new URL(t.path, baseUrl).toString();
    const r = await autocannon({ url, method: t.method, body: t.body, headers: t.headers, connections, duration: durationS });
    out.push({
      path: t.path,
      method: t.method,
      requestsPerSec: Math.round(r.requests.average),
      latencyP50: r.latency.p50,
      latencyP99: r.latency.p99,
      latencyMax: r.latency.max,
      errors: r.errors + r.timeouts,
      non2xx: r.non2xx,
      total: r.requests.total,
      table: autocannon.printResult(r, { renderResultsTable: true, renderLatencyTable: false }),
    });
  }
  return out;
}
