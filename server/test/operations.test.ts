import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, connectAs, httpRequest, login, startTestServer, type TestServer } from './harness.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe('/metrics', () => {
  it('serves Prometheus text with connections, deliveries, errors and fan-out latency', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    await alice.join('metered');
    await bob.join('metered');
    await alice.say('metered', 'count me');
    alice.send('{broken');
    await alice.nextEvent('error');
    const res = await httpRequest(server, '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(res.text)?.[1]);
    expect(value('chatroom_connections')).toBeGreaterThanOrEqual(2);
    expect(value('chatroom_deliveries_total')).toBeGreaterThanOrEqual(2);
    expect(value('chatroom_messages_in_total')).toBeGreaterThanOrEqual(3);
    expect(value('chatroom_store_history_messages')).toBeGreaterThanOrEqual(1);
    expect(res.text).toMatch(/chatroom_errors_total\{code="4400",name="InvalidJson"\} 1/);
    expect(value('chatroom_fanout_seconds_count')).toBeGreaterThanOrEqual(1);
    // The fan-out histograms: cumulative buckets that end at the count; a two-member room's
    // message reached two sockets, so not every fan-out is in the bucket of one.
    for (const name of ['chatroom_fanout_seconds', 'chatroom_fanout_recipients']) {
      expect(res.text).toContain(`# TYPE ${name} histogram`);
      const buckets = [...res.text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} ([0-9.e+]+)$`, 'gm'))].map((m) => Number(m[2]));
      expect(buckets.length).toBeGreaterThan(5);
      expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
      expect(buckets.at(-1)).toBe(value(`${name}_count`));
    }
    expect(value('chatroom_fanout_recipients_bucket\\{le="1"\\}')).toBeLessThan(value('chatroom_fanout_recipients_count'));
    expect(res.text).toContain('chatroom_process_resident_memory_bytes');
    // No message text leaks into metrics.
    expect(res.text).not.toContain('count me');
    await Promise.all([alice.close(), bob.close()]);
  });

  it('with METRICS_TOKEN set, requires it', async () => {
    const guarded = await startTestServer({ METRICS_TOKEN: 'scrape-secret' });
    try {
      expect((await httpRequest(guarded, '/metrics')).status).toBe(403);
      const ok = await httpRequest(guarded, '/metrics', { headers: { authorization: 'Bearer scrape-secret' } });
      expect(ok.status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});

describe('admission control', () => {
  it('limits open connections per address with 429, and frees the slot on close', async () => {
    const limited = await startTestServer({ CONNECTIONS_PER_ADDRESS: '2' });
    try {
      const { token } = await login(limited, 'many');
      const a = await connect(limited, { token });
      const b = await connect(limited, { token });
      await expect(connect(limited, { token })).rejects.toThrow('429');
      await a.close();
      // The slot frees once the server has seen the close.
      let c: Awaited<ReturnType<typeof connect>> | undefined;
      for (const deadline = Date.now() + 3000; !c && Date.now() < deadline; ) c = await connect(limited, { token }).catch(() => undefined);
      if (!c) throw new Error('the slot was not freed');
      await Promise.all([b.close(), c.close()]);
      const metrics = await httpRequest(limited, '/metrics');
      expect(metrics.text).toMatch(/chatroom_refused_handshakes_total\{reason="too-many-connections"\} 1/);
    } finally {
      await limited.close();
    }
  });

  it('limits handshakes per second per address', async () => {
    const limited = await startTestServer({ HANDSHAKES_PER_SEC: '1', HANDSHAKE_BURST: '3' });
    try {
      const results = await Promise.allSettled([0, 1, 2, 3, 4].map(() => connect(limited)));
      const refused = results.filter((r) => r.status === 'rejected');
      expect(refused.length).toBe(2);
      expect(String((refused[0] as PromiseRejectedResult).reason)).toContain('429');
      for (const r of results) if (r.status === 'fulfilled') await r.value.close();
    } finally {
      await limited.close();
    }
  });

  it('believes X-Forwarded-For only from a trusted proxy: a client reaching the node directly cannot pose as others', async () => {
    const limited = await startTestServer({ CONNECTIONS_PER_ADDRESS: '1', TRUST_PROXY: '127.0.0.9' });
    try {
      const { token } = await login(limited, 'direct');
      // Straight from 127.0.0.2: its header is ignored, both sockets count for 127.0.0.2.
      const first = await connect(limited, { token, localAddress: '127.0.0.2', headers: { 'x-forwarded-for': '10.0.0.1' } });
      await expect(connect(limited, { token, localAddress: '127.0.0.2', headers: { 'x-forwarded-for': '10.0.0.2' } })).rejects.toThrow('429');
      // From the proxy: each forwarded client is its own address.
      const viaProxy = await connect(limited, { token, localAddress: '127.0.0.9', headers: { 'x-forwarded-for': '127.0.1.3' } });
      const another = await connect(limited, { token, localAddress: '127.0.0.9', headers: { 'x-forwarded-for': '127.0.1.4' } });
      await Promise.all([first.close(), viaProxy.close(), another.close()]);
    } finally {
      await limited.close();
    }
  });
});
