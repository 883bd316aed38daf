/**
 * `npm run write-cost -w bench -- [--sockets 5000] [--writes 200000] [--per-turn 10] [--size 120] [--rounds 3]
 * [--ways handle.writeBuffer,...]`: what the
 * platform charges for one small write to one of many sockets, with nothing to coalesce: the cost floor of a
 * delivery in a small room or a direct chat.
 *
 * This process accepts `sockets` loopback connections from a child process that only reads (with `onread`,
 * into one buffer) and then, turn after turn (setImmediate), writes one `size`-byte Buffer to each of
 * `per-turn` sockets picked round-robin, in several ways, alternating, and prints the user and system CPU of
 * this process per write:
 *   - `socket.write`: net.Socket's stream path;
 *   - `socket.write, corked`: the same inside cork()/uncork() per socket (what a per-turn batch does);
 *   - `handle.writeBuffer`: the socket's libuv handle directly, as server/src/node/socket-writer.ts does.
 * System time is the kernel's loopback TCP path for the write, the reader's wake-up included.
 */
import { fork } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { median } from './stats.ts';
import { toolArgs } from './tool-args.ts';

interface WriteWrapCtor {
  new (): object;
}
interface StreamWrapBinding {
  WriteWrap: WriteWrapCtor;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}
interface TcpHandle {
  writeBuffer(req: object, data: Buffer): number;
}

const args = toolArgs();

/** The child: connects `n` sockets to `port` and reads everything into one buffer. */
function reader(port: number, n: number): void {
  const buffer = Buffer.allocUnsafe(256 * 1024);
  let open = 0;
  for (let i = 0; i < n; i++) {
    const s = net.connect({ port, host: '127.0.0.1', onread: { buffer, callback: () => true } });
    s.on('connect', () => {
      open++;
      if (open === n) process.send!('connected');
    });
    s.on('error', () => {});
  }
  process.on('message', (m) => {
    if (m === 'exit') process.exit(0);
  });
}

async function main(): Promise<void> {
  if (process.env.WRITE_COST_READER) {
    reader(Number(process.env.WRITE_COST_READER), Number(process.env.WRITE_COST_SOCKETS));
    return;
  }
  const sockets = args.num('--sockets', 5000);
  const writes = args.num('--writes', 200_000);
  const perTurn = args.num('--per-turn', 10);
  const size = args.num('--size', 120);
  const rounds = args.num('--rounds', 3);
  const only = args.opt('--ways', '').split(',').filter(Boolean);
  const accepted: net.Socket[] = [];
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    accepted.push(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, WRITE_COST_READER: String(port), WRITE_COST_SOCKETS: String(sockets) } });
  await new Promise<void>((r) => child.once('message', () => r()));
  while (accepted.length < sockets) await new Promise((r) => setTimeout(r, 10));

  const binding = (process as unknown as { binding(n: string): StreamWrapBinding }).binding('stream_wrap');
  let spare: object | undefined;
  const frame = Buffer.alloc(size, 0x61);
  const ways: Record<string, (s: net.Socket) => void> = {
    'socket.write': (s) => {
      s.write(frame);
    },
    'socket.write, corked': (s) => {
      s.cork();
      s.write(frame);
      process.nextTick(() => s.uncork());
    },
    'handle.writeBuffer': (s) => {
      const handle = (s as unknown as { _handle: TcpHandle })._handle;
      const req = spare ?? new binding.WriteWrap();
      spare = undefined;
      handle.writeBuffer(req, frame);
      if (binding.streamBaseState[binding.kLastWriteWasAsync] === 0) spare = req;
      else (req as { data?: Buffer; oncomplete?: () => void }).oncomplete = () => {};
    },
  };
  const results = new Map<string, { user: number; system: number }[]>();
  let next = 0;
  for (let round = 0; round < rounds; round++) {
    for (const [name, write] of Object.entries(ways).filter(([n]) => only.length === 0 || only.includes(n))) {
      const c0 = process.cpuUsage();
      let done = 0;
      await new Promise<void>((resolve) => {
        const turn = () => {
          for (let i = 0; i < perTurn; i++) {
            write(accepted[next]);
            next = (next + 1) % accepted.length;
          }
          done += perTurn;
          if (done >= writes) resolve();
          else setImmediate(turn);
        };
        setImmediate(turn);
      });
      const c = process.cpuUsage(c0);
      const list = results.get(name) ?? [];
      list.push({ user: c.user / done, system: c.system / done });
      results.set(name, list);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  process.stdout.write(
    `${sockets} sockets, ${size}-byte writes, ${perTurn} sockets a turn, ${writes} writes a run, median of ${rounds} runs (µs of this process's CPU per write):\n`,
  );
  process.stdout.write('| write | user | system | total |\n|---|---|---|---|\n');
  for (const [name, list] of results) {
    const u = median(list.map((x) => x.user));
    const s = median(list.map((x) => x.system));
    process.stdout.write(`| ${name} | ${u.toFixed(2)} | ${s.toFixed(2)} | ${(u + s).toFixed(2)} |\n`);
  }
  child.send('exit');
  for (const s of accepted) s.destroy();
  server.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`write-cost: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
