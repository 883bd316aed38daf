/**
 * docs/deployment.md's systemd unit and the environment file it reads, checked the way systemd reads
 * them, and the one-node settings started as written (with the doc's placeholders replaced).
 *
 * `systemd-analyze verify` (Debian's systemd package) runs without a running systemd and reports
 * unknown sections and keys, relative paths, invalid assignments and a missing ExecStart binary.
 * It accepts `EnvironmentFile=/path   # comment`, though: systemd keeps the comment as part of the
 * path and the service then fails to start. So the unit also goes through a check of our own for
 * comments after a value.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploymentBlock, parseEnvironmentFile, substitute } from './deployment-doc.ts';
import { connect, httpRequest, login } from './harness.ts';
import { ensureServerBuilt, type ProcessNode, startServerProcess } from './redis-nodes.ts';
import { makeCertificate } from './test-certificates.ts';

const UNIT = deploymentBlock('# /etc/systemd/system/chatroom.service');
const ONE_NODE_SETTINGS = deploymentBlock('# /etc/chatroom/chatroom.env: one node serving port 443 itself');

const SYSTEMD_ANALYZE = 'systemd-analyze';

function systemdAnalyzeUnavailable(): string | undefined {
  const probe = spawnSync(SYSTEMD_ANALYZE, ['--version'], { encoding: 'utf8' });
  if (probe.status === 0) return undefined;
  const reason = `systemd-analyze did not run (${probe.error?.message ?? `exit ${probe.status}: ${probe.stderr}`}); install the Debian package: apt-get install -y systemd`;
  if (process.env.CI === 'true') throw new Error(`${reason}; CI must not skip the systemd unit test`);
  return reason;
}

/** A line `Key=value` whose value carries a `#` after white space: systemd keeps it in the value. */
function inlineComments(unit: string): string[] {
  return unit
    .split('\n')
    .filter((line) => /^\s*[A-Za-z][\w-]*\s*=/.test(line) && /\s#/.test(line.slice(line.indexOf('=') + 1)))
    .map((line) => `comment after a value (systemd keeps it as part of the value): ${line.trim()}`);
}

/** Everything systemd would object to in the unit; empty when it is fine. */
function unitProblems(unit: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'chat-unit-'));
  try {
    // The doc's ExecStart names where node is installed; here it is wherever this node is.
    const file = join(dir, 'chatroom.service');
    writeFileSync(file, unit.replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `));
    const verify = spawnSync(SYSTEMD_ANALYZE, ['verify', '--man=no', file], { encoding: 'utf8' });
    const complaints = `${verify.stdout}${verify.stderr}`.split('\n').filter((line) => line.trim() !== '');
    if (verify.status !== 0 && complaints.length === 0) complaints.push(`systemd-analyze verify exited with ${verify.status}`);
    return [...complaints, ...inlineComments(unit)];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const systemdMissing = systemdAnalyzeUnavailable();
if (systemdMissing) console.warn(`skipping the systemd unit checks: ${systemdMissing}`);

describe.skipIf(systemdMissing !== undefined)('the systemd unit in docs/deployment.md', () => {
  it('is a unit systemd accepts without a complaint', () => {
    expect(UNIT).toContain('ExecStart=/usr/bin/node server/dist/main.js');
    expect(unitProblems(UNIT)).toEqual([]);
  });

  it('would be refused with what systemd rejects: a comment after a value, an unknown section, a relative EnvironmentFile', () => {
    const withComment = UNIT.replace('EnvironmentFile=/etc/chatroom/chatroom.env', 'EnvironmentFile=/etc/chatroom/chatroom.env   # JWT_SECRET=…');
    const unknownSection = UNIT.replace('[Service]', '[Servcie]');
    const relativeFile = UNIT.replace('EnvironmentFile=/etc/chatroom/chatroom.env', 'EnvironmentFile=etc/chatroom/chatroom.env');
    for (const broken of [withComment, unknownSection, relativeFile]) {
      expect(broken).not.toBe(UNIT);
      expect(unitProblems(broken)).not.toEqual([]);
    }
  });

  it('reads its settings from the environment file the doc shows', () => {
    expect(UNIT).toMatch(/^EnvironmentFile=\/etc\/chatroom\/chatroom\.env$/m);
    expect(ONE_NODE_SETTINGS.split('\n', 1)[0]).toContain('/etc/chatroom/chatroom.env');
    expect(() => parseEnvironmentFile('JWT_SECRET=abc   # 32+ characters')).toThrow('inline comment');
  });
});

describe('one node serving port 443 with the settings in docs/deployment.md', () => {
  let dir: string;
  let node: ProcessNode;
  let snapshotPath: string;
  const secret = 'systemd-doc-test-secret-0123456789abcdef';
  const metricsToken = 'systemd-doc-test-metrics-token';

  beforeAll(async () => {
    ensureServerBuilt();
    dir = mkdtempSync(join(tmpdir(), 'chat-one-node-'));
    const cert = await makeCertificate('one-node');
    writeFileSync(join(dir, 'fullchain.pem'), cert.cert);
    writeFileSync(join(dir, 'privkey.pem'), cert.key, { mode: 0o600 });
    // StateDirectory=chatroom: /var/lib/chatroom, here inside the test's directory.
    snapshotPath = join(dir, 'var/lib/chatroom/snapshot.json');
    const settings = parseEnvironmentFile(
      substitute(ONE_NODE_SETTINGS, [
        ['PORT=443', 'PORT=0'],
        ['/etc/letsencrypt/live/chat.example.com/fullchain.pem', join(dir, 'fullchain.pem')],
        ['/etc/letsencrypt/live/chat.example.com/privkey.pem', join(dir, 'privkey.pem')],
        ['chat.example.com', 'localhost'],
        ['/var/lib/chatroom/snapshot.json', snapshotPath],
        ['JWT_SECRET=…', `JWT_SECRET=${secret}`],
        ['METRICS_TOKEN=…', `METRICS_TOKEN=${metricsToken}`],
      ]),
    );
    // The only addition: the test listens on loopback, not on every interface of the machine.
    node = await startServerProcess({ ...settings, HOST: '127.0.0.1' }, cert);
  });
  afterAll(async () => {
    await node?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves WSS with the configured certificate to tokens of the team issuer, with the development login off', async () => {
    expect(node.url).toMatch(/^wss:/);
    const { token } = await login(node, 'grace', 'grace');
    const client = await connect(node, { token });
    try {
      expect(await client.nextEvent('welcome')).toMatchObject({ uid: 'grace' });
    } finally {
      await client.close();
    }
    const devLogin = await httpRequest(node, '/api/login', { method: 'POST', body: '{"name":"x"}', headers: { 'content-type': 'application/json' } });
    expect(devLogin.status).toBe(404);
  });

  it('answers /metrics only with METRICS_TOKEN, even on loopback', async () => {
    expect((await httpRequest(node, '/metrics')).status).toBe(403);
    const scraped = await httpRequest(node, '/metrics', { headers: { authorization: `Bearer ${metricsToken}` } });
    expect(scraped.status).toBe(200);
  });

  it('stops on SIGTERM (KillSignal) within TimeoutStopSec and leaves its snapshot in the state directory', async () => {
    const timeoutStopSec = Number(/^TimeoutStopSec=(\d+)$/m.exec(UNIT)?.[1]);
    expect(UNIT).toMatch(/^KillSignal=SIGTERM$/m);
    const started = Date.now();
    await node.close();
    expect(node.child.exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(timeoutStopSec * 1000);
    expect(existsSync(snapshotPath)).toBe(true);
  });
});
