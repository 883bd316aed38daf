/**
 * docs/deployment.md's nginx block and node settings, run for real: Debian's nginx terminating TLS
 * in front of one node and of two nodes on Redis, configured from the doc's own text with only its
 * placeholders (domain, certificate paths, listen port, upstream addresses, secrets) replaced.
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { type RunningServer, startNodeServer } from '../src/node/server.ts';
import { deploymentBlock, parseEnvironmentFile, substitute } from './deployment-doc.ts';
import { connect, eventually, httpRequest, login, type TestClient, type TestServer, testEnv } from './harness.ts';
import { nginxPrefix, nginxUnavailable, type RunningNginx, startNginx, testNginxConfig } from './nginx.ts';
import { ensureServerBuilt, type ProcessNode, startProcessNode } from './redis-nodes.ts';
import { freePort, redisUnavailable, startRedis, type TestRedis } from './redis-server.ts';
import { makeCertificate } from './test-certificates.ts';

const NGINX_SITE = deploymentBlock('# /etc/nginx/conf.d/chatroom.conf');
const NODE_SETTINGS = parseEnvironmentFile(deploymentBlock('# /etc/chatroom/chatroom.env: every node behind nginx'));
const JWT_SECRET = 'deployment-test-secret-0123456789abcdef';
const METRICS_TOKEN = 'deployment-test-metrics-token';

const nginxMissing = nginxUnavailable();

/** The doc's site file for this test: its certificate, a free port, and these upstream servers. */
function siteFor(dir: string, port: number, cert: { cert: string; key: string }, upstreams: string[]): string {
  writeFileSync(join(dir, 'fullchain.pem'), cert.cert);
  writeFileSync(join(dir, 'privkey.pem'), cert.key, { mode: 0o600 });
  const site = substitute(NGINX_SITE, [
    ['/etc/letsencrypt/live/chat.example.com/fullchain.pem', join(dir, 'fullchain.pem')],
    ['/etc/letsencrypt/live/chat.example.com/privkey.pem', join(dir, 'privkey.pem')],
    ['chat.example.com', 'localhost'],
    ['listen 443 ssl;', `listen 127.0.0.1:${port} ssl;`],
  ]);
  // The doc's upstream servers become the test's nodes, each with the doc's parameters.
  const servers = [...site.matchAll(/^( *)server 10\.0\.0\.\d+:8080([^;\n]*);\n/gm)];
  if (servers.length === 0) throw new Error(`no "server 10.0.0.x:8080" line in the upstream block:\n${NGINX_SITE}`);
  const [indent, parameters] = [servers[0][1], servers[0][2]];
  const ours = upstreams.map((address) => `${indent}server ${address}${parameters};\n`).join('');
  const first = servers[0].index!;
  const last = servers[servers.length - 1];
  return site.slice(0, first) + ours + site.slice(last.index! + last[0].length);
}

/**
 * The doc's node settings with its placeholders replaced; `without` drops settings the way the doc
 * says (no REDIS_URL for one node) or to show what a missing one costs.
 */
function nodeSettings(values: { redisUrl?: string }, extra: Record<string, string> = {}, without: string[] = []): Record<string, string> {
  const settings = { ...NODE_SETTINGS };
  const placeholders: Record<string, string | undefined> = {
    HOST: '127.0.0.1',
    PORT: '0',
    REDIS_URL: values.redisUrl,
    JWT_SECRET,
    METRICS_TOKEN,
    ALLOWED_ORIGINS: settings.ALLOWED_ORIGINS?.replace('chat.example.com', 'localhost'),
  };
  for (const [name, value] of Object.entries(placeholders)) {
    if (!(name in settings)) throw new Error(`docs/deployment.md's node settings no longer set ${name}`);
    if (value === undefined) delete settings[name];
    else settings[name] = value;
  }
  for (const name of without) delete settings[name];
  return { ...settings, ...extra };
}

/** What the tests reach through nginx, as a harness server: its address, its certificate, the nodes' secret. */
function front(port: number, cert: string): TestServer {
  return {
    url: `wss://127.0.0.1:${port}/`,
    httpUrl: `https://127.0.0.1:${port}`,
    port,
    tls: { cert },
    env: { JWT_SECRET },
    close: async () => {},
  };
}

/** A client at its own address: the team's issuer signs its token, it connects through nginx. */
async function clientAt(server: TestServer, localAddress: string, uid: string): Promise<TestClient> {
  const { token } = await login(server, uid, uid);
  const client = await connect(server, { token, localAddress });
  await client.nextEvent('welcome');
  return client;
}

/** TCP connections in the ESTABLISHED state whose local port is `port` (the node's side). */
function establishedTo(port: number): number {
  let count = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (local && state === '01' && parseInt(local.split(':')[1], 16) === port) count++;
    }
  }
  return count;
}

function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} in /metrics:\n${text}`);
  return Number(line.split(' ')[1]);
}

/** nginx's certificate, made once for the file. */
let cert: { cert: string; key: string };

/** One in-process node with these settings behind nginx, started for the enclosing describe. */
function oneNodeBehindNginx(settings: Record<string, string>): { node: RunningServer; server: TestServer } {
  const setup = {} as { node: RunningServer; server: TestServer; nginx?: RunningNginx };
  beforeAll(async () => {
    setup.node = await startNodeServer(loadConfig(testEnv(settings)));
    const dir = nginxPrefix();
    const port = await freePort();
    setup.nginx = await startNginx(dir, siteFor(dir, port, cert, [`127.0.0.1:${setup.node.port}`]));
    setup.server = front(port, cert.cert);
  });
  afterAll(async () => {
    await setup.nginx?.stop();
    await setup.node?.close();
  });
  return setup;
}

describe.skipIf(nginxMissing !== undefined)('nginx configured from docs/deployment.md', () => {
  beforeAll(async () => {
    cert = await makeCertificate('nginx-front');
  });

  it('passes `nginx -t` as written, without a warning', async () => {
    const dir = nginxPrefix();
    const result = testNginxConfig(dir, siteFor(dir, await freePort(), cert, ['127.0.0.1:9']));
    expect(result.output).toContain('test is successful');
    expect(result.output).not.toMatch(/\[(warn|emerg|alert|crit|error)\]/);
    expect(result.status).toBe(0);
  });

  describe('in front of one node on its machine', () => {
    // As the doc says for one node: HOST=127.0.0.1 and no REDIS_URL. Two connections per address,
    // so that a test can reach the limit.
    const one = oneNodeBehindNginx(nodeSettings({}, { CONNECTIONS_PER_ADDRESS: '2' }));

    it('keeps its connections to the node open between plain requests (upstream keepalive)', async () => {
      expect(establishedTo(one.node.port)).toBe(0);
      for (let i = 0; i < 10; i++) {
        const res = await httpRequest(one.server, '/healthz');
        expect(res.status).toBe(200);
      }
      // With "Connection: close" sent upstream, every request would have closed its connection.
      expect(establishedTo(one.node.port)).toBeGreaterThanOrEqual(1);
    });

    it('terminates TLS and carries a conversation between two clients', async () => {
      const alice = await clientAt(one.server, '127.0.0.2', 'alice');
      const bob = await clientAt(one.server, '127.0.0.3', 'bob');
      try {
        await alice.join('lobby-1');
        await bob.join('lobby-1');
        const ack = await alice.say('lobby-1', 'hello through nginx');
        const got = await bob.next((f) => f.event === 'message' && f.message === 'hello through nginx');
        expect(got).toMatchObject({ uid: 'alice', seq: ack.seq, roomid: 'lobby-1' });
        // The doc's settings turn the development login off: tokens come from the team's issuer.
        const devLogin = await httpRequest(one.server, '/api/login', { method: 'POST', body: '{"name":"x"}', headers: { 'content-type': 'application/json' } });
        expect(devLogin.status).toBe(404);
      } finally {
        await Promise.all([alice.close(), bob.close()]);
      }
    });

    it('applies the per-address connection limit to each client, not to nginx (TRUST_PROXY=true)', async () => {
      const opened: TestClient[] = [];
      try {
        // Addresses no other test of this node uses: a closed socket may still count for a moment.
        opened.push(await clientAt(one.server, '127.0.0.4', 'carol'), await clientAt(one.server, '127.0.0.4', 'carol'));
        const { token } = await login(one.server, 'carol', 'carol');
        await expect(connect(one.server, { token, localAddress: '127.0.0.4' })).rejects.toThrow('429');
        // A forged X-Forwarded-For does not help: nginx appends the real address, the node takes the last.
        await expect(connect(one.server, { token, localAddress: '127.0.0.4', headers: { 'x-forwarded-for': '198.51.100.7' } })).rejects.toThrow('429');
        // Another client is not held back by the first one's limit.
        opened.push(await clientAt(one.server, '127.0.0.5', 'dave'), await clientAt(one.server, '127.0.0.5', 'dave'));
      } finally {
        await Promise.all(opened.map((client) => client.close()));
      }
    });

    it('refuses /metrics, which the node itself answers to Prometheus', async () => {
      const outside = await httpRequest(one.server, '/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` }, localAddress: '127.0.0.2' });
      expect(outside.status).toBe(403);
      expect(outside.text).not.toContain('chatroom_connections');
      const direct = await httpRequest({ ...one.server, httpUrl: one.node.httpUrl, tls: undefined }, '/metrics', {
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      });
      expect(direct.status).toBe(200);
      expect(direct.text).toContain('chatroom_connections');
    });
  });

  describe('in front of a node without TRUST_PROXY or METRICS_TOKEN (what the doc warns about)', () => {
    const one = oneNodeBehindNginx(nodeSettings({}, { CONNECTIONS_PER_ADDRESS: '2' }, ['TRUST_PROXY', 'METRICS_TOKEN']));

    it('limits every client together as nginx, and only nginx keeps /metrics private', async () => {
      const opened = [await clientAt(one.server, '127.0.0.2', 'erin'), await clientAt(one.server, '127.0.0.2', 'erin')];
      try {
        const { token } = await login(one.server, 'frank', 'frank');
        await expect(connect(one.server, { token, localAddress: '127.0.0.3' })).rejects.toThrow('429');
      } finally {
        await Promise.all(opened.map((client) => client.close()));
      }
      // The node answers nginx's loopback address without a token; nginx's `location = /metrics` stops it.
      const outside = await httpRequest(one.server, '/metrics', { localAddress: '127.0.0.2' });
      expect(outside.status).toBe(403);
      const viaLoopback = await httpRequest({ ...one.server, httpUrl: one.node.httpUrl, tls: undefined }, '/metrics');
      expect(viaLoopback.status).toBe(200);
    });
  });

  const redisMissing = redisUnavailable();
  describe.skipIf(redisMissing !== undefined)('in front of two nodes on Redis', () => {
    let redis: TestRedis;
    const nodes: ProcessNode[] = [];
    let nginx: RunningNginx;
    let server: TestServer;

    beforeAll(async () => {
      ensureServerBuilt();
      redis = await startRedis();
      for (let i = 0; i < 2; i++) {
        nodes.push(await startProcessNode(redis.url, nodeSettings({ redisUrl: redis.url })));
      }
      const dir = nginxPrefix();
      const port = await freePort();
      nginx = await startNginx(
        dir,
        siteFor(
          dir,
          port,
          cert,
          nodes.map((node) => `127.0.0.1:${node.port}`),
        ),
      );
      server = front(port, cert.cert);
    });
    afterAll(async () => {
      await nginx?.stop();
      await Promise.all(nodes.map((node) => node.kill()));
      await redis?.stop();
    });

    const connectionsOn = async (node: ProcessNode): Promise<number> => {
      const res = await httpRequest(node, '/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      return metricValue(res.text, 'chatroom_connections');
    };

    it('carries a room across both nodes, and a client whose node is killed reconnects through nginx and resumes', async () => {
      const room = 'deploy-room';
      const addresses = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
      const clients = await Promise.all(addresses.map((address, i) => clientAt(server, address, `user-${i}`)));
      try {
        for (const client of clients) await client.join(room);
        // least_conn spread the clients: each node holds some.
        const [onFirst, onSecond] = await Promise.all(nodes.map(connectionsOn));
        expect(onFirst).toBeGreaterThanOrEqual(1);
        expect(onSecond).toBeGreaterThanOrEqual(1);
        expect(onFirst + onSecond).toBe(clients.length);

        for (const [i, client] of clients.entries()) await client.say(room, `hello from ${i}`);
        for (const client of clients) {
          await client.waitFor(() => client.messages(room).length === clients.length, 3000, 'every message on every node');
        }

        await nodes[0].kill();
        const isLost = (client: TestClient): boolean => client.closeCode !== undefined;
        await eventually(() => clients.filter(isLost).length === onFirst, 5000, "the killed node's clients to lose their sockets");
        const lost = clients.filter(isLost);
        const survivor = clients.find((client) => !isLost(client))!;

        const missed = [await survivor.say(room, 'while you were away 1'), await survivor.say(room, 'while you were away 2')];
        // Each reconnects at its first attempt: nginx passes a connection the dead node refuses on to the other.
        const back = await Promise.all(lost.map((client) => clientAt(server, addresses[clients.indexOf(client)], `user-${clients.indexOf(client)}`)));
        try {
          for (const [i, client] of back.entries()) {
            const seen = lost[i].messages(room).map((m) => m.seq as number);
            const joined = await client.join(room, { since: Math.max(...seen) });
            expect(joined.gap).toBe(false);
            expect(client.messages(room).map((m) => [m.seq, m.replay])).toEqual(missed.map((ack) => [ack.seq, true]));
          }
          // Live again: the next message reaches every client once, old connections and new.
          const live = await survivor.say(room, 'welcome back');
          for (const client of [...back, ...clients.filter((c) => !isLost(c))]) {
            await client.next((f) => f.event === 'message' && f.seq === live.seq);
            expect(client.messages(room).filter((m) => m.seq === live.seq)).toHaveLength(1);
          }
        } finally {
          await Promise.all(back.map((client) => client.close()));
        }
      } finally {
        await Promise.all(clients.map((client) => client.close()));
      }
    });
  });
});
