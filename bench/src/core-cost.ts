/**
 * `npm run core-cost -w bench -- [--members 10000] [--rooms 1000 | --direct] [--messages 100000]
 * [--per-turn 50] [--rounds 3] [--builds DIR,DIR] [--history N] [--fill N]`: what our server's
 * JavaScript costs per message, without the platform. `--history` sets HISTORY_PER_ROOM (default:
 * the server's); `--fill` sends that many messages more before measuring, so the measured ones meet
 * a store already holding them (a full store when the history is small enough).
 *
 * The server's own modules (a built `server/dist`, or each of `--builds`) run in a child process:
 * the app as `npm start` builds it (memory store, metrics, limits raised as in the benchmark),
 * sessions opened with their identity, and each socket's transport the real `WsTransport` on a
 * stand-in WebSocket with no TCP socket behind it, so frames are framed, queued and coalesced as
 * usual and the write is the only thing left out. Frames go in through `ChatCore.receive`,
 * `--per-turn` of them a turn, as the socket adapter hands them over. CPU time (user + system of
 * the process) over the measured messages, after a warm-up, is divided by messages and by
 * deliveries.
 *
 * Why: a loopback write costs about 11 µs whatever the server (`write-cost`), and the machine's
 * other work moves socket benchmarks by tens of percent; this isolates the part we can change and
 * measures it to a few percent, so a change to the message path can be measured before and after.
 * With several builds the rounds alternate between them (the previous build's dist copied aside,
 * `BENCH_OURS_ALT_MAIN`'s directory by default).
 */

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OURS_MAIN } from './peers.ts';
import { median } from './stats.ts';
import { toolArgs, toolLoad } from './tool-args.ts';

interface ChildResult {
  build: string;
  messages: number;
  deliveries: number;
  cpuUs: number;
  userUs: number;
  wallMs: number;
  heapMB: number;
}

const TEXT = 'x'.repeat(100);

// biome-ignore lint/suspicious/noExplicitAny: the server's modules are loaded from a build directory at run time.
type Any = any;

/** A WebSocket as WsTransport sees it: open, nothing buffered, no TCP socket (so no write). */
function standInSocket(): Any {
  return { readyState: 1, bufferedAmount: 0, pause() {}, close() {}, terminate() {} };
}

interface ChildLoad {
  members: number;
  rooms: number;
  direct: boolean;
  messages: number;
  perTurn: number;
  history?: number;
  fill: number;
}

async function child(build: string, { members, rooms, direct, messages, perTurn, history, fill }: ChildLoad): Promise<ChildResult> {
  const load = (file: string): Promise<Any> => import(path.join(build, file));
  const [{ loadConfig }, { createChatApp }, { createLogger }, { nodePlatform }, { prepareText, WsTransport }, { WriteCoalescer }] = await Promise.all([
    load('config.js'),
    load('chat-app.js'),
    load('core/logger.js'),
    load('node/platform.js'),
    load('node/ws-transport.js'),
    load('node/write-coalescer.js'),
  ]);
  const config = loadConfig({
    PLAIN_HTTP: 'true',
    JWT_SECRET: 'core-cost-secret-0123456789abcdef0123456789',
    SNAPSHOT_PATH: 'off',
    RATE_LIMIT_PER_SEC: '1000000',
    RATE_LIMIT_BURST: '1000000',
    USER_RATE_PER_SEC: '1000000',
    USER_RATE_BURST: '1000000',
    ROOMS_CREATED_PER_HOUR: '1000000',
    DIRECT_PEERS_PER_HOUR: '1000000',
    LOG_LEVEL: 'silent',
    ...(history === undefined ? {} : { HISTORY_PER_ROOM: String(history) }),
  });
  const app = await createChatApp(config, createLogger('silent'), { platform: nodePlatform, prepare: prepareText, staticDir: '/nonexistent' });
  const core = app.core;
  const coalescer = new WriteCoalescer(config.writeCoalesceMs);
  let deliveries = 0;
  const Base = WsTransport as new (ws: Any, compress: boolean, coalescer: Any) => { send(text: string): void; sendPrepared(payload: unknown): void };
  class CountingTransport extends Base {
    override send(text: string): void {
      deliveries += 1;
      super.send(text);
    }
    override sendPrepared(payload: unknown): void {
      deliveries += 1;
      super.sendPrepared(payload);
    }
  }
  const sessions: Any[] = [];
  for (let i = 0; i < members; i += 1) {
    const uid = `u${i}`;
    const session = core.open(new CountingTransport(standInSocket(), false, coalescer), '127.0.0.1', {
      identity: { uid, name: uid, expiresAt: Date.now() + 86_400_000 },
    });
    sessions.push(session);
  }
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  await turn();
  const pairs = members / 2;
  const roomOf = (i: number) => `r${i % rooms}`;
  if (!direct) {
    for (let i = 0; i < members; i += 1) {
      core.receive(sessions[i], JSON.stringify({ event: 'join', roomid: roomOf(i), id: `j${i}` }), false);
      if (i % 500 === 499) await turn();
    }
  }
  for (const session of sessions) await session.idle;
  await turn();
  // One publisher a room (a pair): the room's first member (the pair's first).
  const publishers = direct ? pairs : rooms;
  const frameOf = (n: number): string => {
    const p = n % publishers;
    return direct
      ? JSON.stringify({ event: 'message', to: `u${p + pairs}`, message: TEXT, id: `m${n}` })
      : JSON.stringify({ event: 'message', roomid: roomOf(p), message: TEXT, id: `m${n}` });
  };
  const run = async (from: number, count: number): Promise<void> => {
    for (let n = from; n < from + count; n += perTurn) {
      for (let k = n; k < Math.min(n + perTurn, from + count); k += 1) core.receive(sessions[k % publishers], frameOf(k), false);
      await turn();
    }
    for (const session of sessions.slice(0, publishers)) await session.idle;
    await turn();
  };
  // Warm-up: the JIT, and in direct chats the rooms' creation.
  const warm = Math.max(publishers * 2, Math.floor(messages / 5)) + fill;
  await run(0, warm);
  // The same start for every build: what the warm-up left is collected first.
  (globalThis as { gc?: () => void }).gc?.();
  const before = deliveries;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(warm, messages);
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  // What the store keeps, not what is waiting to be collected.
  (globalThis as { gc?: () => void }).gc?.();
  return {
    build,
    messages,
    deliveries: deliveries - before,
    cpuUs: cpu.user + cpu.system,
    userUs: cpu.user,
    wallMs,
    heapMB: process.memoryUsage().heapUsed / 2 ** 20,
  };
}

async function main(): Promise<void> {
  const args = toolArgs();
  const { members, rooms, direct } = toolLoad(args, { members: 10_000, rooms: 1000 });
  const messages = args.num('--messages', 100_000);
  const perTurn = args.num('--per-turn', 50);
  const historyArg = args.opt('--history', '');
  const history = historyArg === '' ? undefined : Number(historyArg);
  const fill = args.num('--fill', 0);
  if (args.flag('--child')) {
    const result = await child(args.opt('--build', ''), { members, rooms, direct, messages, perTurn, history, fill });
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  }
  const alt = process.env.BENCH_OURS_ALT_MAIN ? path.dirname(path.resolve(process.env.BENCH_OURS_ALT_MAIN)) : undefined;
  const builds = args
    .opt('--builds', [path.dirname(OURS_MAIN), ...(alt ? [alt] : [])].join(','))
    .split(',')
    .filter(Boolean)
    .map((b) => path.resolve(b));
  const rounds = args.num('--rounds', 3);
  const self = fileURLToPath(import.meta.url);
  const results = new Map<string, ChildResult[]>(builds.map((b) => [b, []]));
  for (let round = 0; round < rounds; round += 1) {
    for (const build of builds) {
      const load = direct ? ['--direct'] : ['--rooms', String(rooms)];
      const out = spawnSync(
        process.execPath,
        [
          '--expose-gc',
          self,
          '--child',
          '--build',
          build,
          '--members',
          String(members),
          ...load,
          '--messages',
          String(messages),
          '--per-turn',
          String(perTurn),
          '--fill',
          String(fill),
          ...(history === undefined ? [] : ['--history', String(history)]),
        ],
        { encoding: 'utf8', maxBuffer: 1 << 20 },
      );
      if (out.status !== 0) throw new Error(`${build}: ${out.stderr || out.stdout}`);
      const r = JSON.parse(out.stdout.trim().split('\n').pop()!) as ChildResult;
      results.get(build)!.push(r);
      process.stderr.write(
        `round ${round + 1} ${build}: ${(r.cpuUs / r.messages).toFixed(1)} µs/message (${(r.userUs / r.messages).toFixed(1)} user), ` +
          `${(r.cpuUs / r.deliveries).toFixed(2)} µs/delivery, ${(r.deliveries / r.messages).toFixed(2)} deliveries/message, heap ${r.heapMB.toFixed(0)} MB\n`,
      );
    }
  }
  const label = direct ? `${members / 2} direct-message pairs` : `${members} members in ${rooms} rooms`;
  process.stdout.write(`\n${label}, ${messages} messages, ${perTurn} a turn, median of ${rounds} rounds\n`);
  process.stdout.write('| build | CPU µs/message | user µs/message | CPU µs/delivery | vs first |\n|---|---|---|---|---|\n');
  const first = median(results.get(builds[0])!.map((r) => r.cpuUs / r.messages));
  for (const [build, rs] of results) {
    const perMessage = median(rs.map((r) => r.cpuUs / r.messages));
    const user = median(rs.map((r) => r.userUs / r.messages));
    const perDelivery = median(rs.map((r) => r.cpuUs / r.deliveries));
    process.stdout.write(`| ${build} | ${perMessage.toFixed(1)} | ${user.toFixed(1)} | ${perDelivery.toFixed(2)} | ${(perMessage / first).toFixed(2)}× |\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
