/**
 * `npm run callgrind -w bench -- [--servers ours,ours-alt] [--members 1000] [--rooms 100 | --direct] [--publishers 100]
 * [--rate 200] [--duration 5] [--keep]`: counts the instructions each server executes in user space for the same fixed
 * load, under valgrind's callgrind. Instruction counts do not move with the other processes on a shared machine,
 * so they tell two builds apart where timings cannot; they leave out the kernel (the system calls themselves),
 * which `npm run ab` measures.
 *
 * The server runs uninstrumented through start, login, connect and a first load step (`--instr-atstart=no`), so
 * that V8 has compiled the hot paths; instrumentation is switched on (`callgrind_control -i on`) for a second,
 * identical step of `rate` messages/s, and the counters are dumped after its drain. Reported: instructions per
 * delivery and per message over that whole step, and the parts of it run from setImmediate and timers (on our
 * server: the write coalescer's flush, i.e. the writes) and in the garbage collector.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { destroyAgents } from './http.ts';
import { launch, PEERS } from './peers.ts';
import { toolArgs, toolLoad, toolSession } from './tool-args.ts';

/**
 * vgdb finds the server's valgrind by a file name that contains $HOST, which launch() sets to
 * 127.0.0.1 for every server: callgrind_control must see the same.
 */
const control = (args: string[]) => execFileSync('callgrind_control', args, { encoding: 'utf8', timeout: 120_000, env: { ...process.env, HOST: '127.0.0.1' } });

/**
 * Instructions (Ir) in the dumps of `pid`: in all, and in V8's optimizing compiler (the inclusive cost of the
 * Runtime_Compile* entries). The compiler still runs now and then after the warm-up, by 10-25 % of a step's
 * count and differently every run; the figure compared is the count without it.
 */
function instructions(dir: string, pid: number): { total: number; compile: number; timers: number; gc: number } {
  let total = 0;
  let compile = 0;
  let timers = 0;
  let gc = 0;
  for (const f of fs.readdirSync(dir).filter((x) => x.startsWith(`callgrind.${pid}.`))) {
    const file = path.join(dir, f);
    const m = /^(?:totals|summary):\s+(\d+)/m.exec(fs.readFileSync(file, 'utf8'));
    if (m) total += Number(m[1]);
    const annotated = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', file], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    for (const line of annotated.split('\n')) {
      const count = Number(/^\s*([\d,]+) /.exec(line)?.[1].replace(/,/g, '') ?? NaN);
      if (Number.isNaN(count)) continue;
      if (/v8::internal::Runtime_Compile\w*\(/.test(line)) compile += count;
      else if (/node::Environment::(CheckImmediate|RunTimers)\(/.test(line)) timers += count;
      else if (/v8::internal::Heap::CollectGarbage\(/.test(line)) gc += count;
    }
  }
  return { total, compile, timers, gc };
}

async function main(): Promise<void> {
  const args = toolArgs();
  const servers = args.opt('--servers', 'ours').split(',').filter(Boolean);
  const load = toolLoad(args, { members: 1000, rooms: 100 });
  const { members, rooms, publishers, direct } = load;
  const rate = args.num('--rate', 200);
  const duration = args.num('--duration', 5);
  const keep = args.flag('--keep');
  const log = (l: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`);
  const rows: string[] = [];
  for (const id of servers) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-bench-callgrind-'));
    const wrapper = ['valgrind', '--tool=callgrind', '--smc-check=all-non-file', '--instr-atstart=no', `--callgrind-out-file=${dir}/callgrind.%p`];
    // One thread for V8's compiler and GC: their work then lands in the same order every run.
    const peer = await launch(PEERS[id], { wrapper, nodeArgs: ['--single-threaded'], timeoutMs: 900_000 });
    const session = toolSession(id, peer, load, { connectTimeoutMs: 120_000, connectConcurrency: 16, log: (l) => log(`${id}: ${l}`) });
    try {
      await session.connect();
      // The same load once uninstrumented first: V8 compiles the hot paths then, not in the count.
      await session.step({ rate, size: 100, warmupMs: 0, durationMs: 2 * duration * 1000, drainMs: 20_000 });
      await session.quiesce(500, 20_000);
      control(['-i', 'on', String(peer.pid)]);
      control(['-z', String(peer.pid)]);
      const r = await session.step({ rate, size: 100, warmupMs: 1000, durationMs: duration * 1000, drainMs: 20_000 });
      control(['-d', String(peer.pid)]);
      const { total, compile, timers, gc } = instructions(dir, peer.pid);
      const ir = total - compile;
      const perRoom = members / rooms;
      const delivered = r.sent * perRoom - r.lost;
      log(`${id}: ${r.sent} messages, ${delivered} deliveries (lost ${r.lost}), ${total} instructions, ${compile} of them compiling`);
      const per = (n: number) => Math.round(n / delivered);
      rows.push(
        `| ${id} | ${r.sent} | ${delivered} | ${r.lost} | ${(total / 1e6).toFixed(1)} M | ${(compile / 1e6).toFixed(1)} M | ${per(ir)} | ${per(timers)} | ${per(gc)} | ${Math.round(ir / r.sent)} |`,
      );
    } finally {
      await session.close();
      await peer.stop();
      if (keep) log(`${id}: callgrind output kept in ${dir} (callgrind_annotate --inclusive=yes ${dir}/callgrind.${peer.pid}*)`);
      else fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  destroyAgents();
  const described = direct ? `${members / 2} direct-message pairs` : `${members} members in ${rooms} rooms`;
  process.stdout.write(`\nuser-space instructions (callgrind), ${described}, ${publishers} publishers, ${rate} messages/s for 1 + ${duration} s:\n`);
  process.stdout.write(
    '| server | messages | deliveries | lost | instructions | of them compiling | per delivery (without compiling) | of it in immediates and timers | of it in GC | per message |\n' +
      '|---|---|---|---|---|---|---|---|---|---|\n',
  );
  process.stdout.write(`${rows.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`callgrind: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
