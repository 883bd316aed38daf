/** `npm run bench -- [options] <url> [<url> ...]`: one load run against a running server (or several nodes of one). */
import { HELP, HelpRequested, parseArgs } from './args.ts';
import { dialectByName } from './dialects.ts';
import { destroyAgents } from './http.ts';
import { Session } from './loadgen.ts';
import { pidListeningOn } from './procstat.ts';
import { formatTables, progressLine } from './report.ts';

async function main(): Promise<number> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(HELP);
      return 0;
    }
    process.stderr.write(`${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const portOf = (u: string) => {
    const url = new URL(u);
    return Number(url.port || (url.protocol === 'wss:' ? 443 : 80));
  };
  const serverPid = args.serverPid ?? pidListeningOn(portOf(args.url));
  // Several URLs: one server process per URL (its listener), CPU summed; unknown if any is unfound.
  let serverPids: number[] | undefined = args.serverPids;
  if (!serverPids && args.urls.length > 1) {
    const found = args.urls.map((u) => pidListeningOn(portOf(u)));
    serverPids = found.every((p) => p !== undefined) ? [...new Set(found as number[])] : undefined;
  }
  const log = (line: string) => {
    if (!args.json || args.progress) process.stderr.write(`${line}\n`);
  };
  const session = new Session({
    url: args.url,
    ...(args.urls.length > 1 ? { urls: args.urls } : {}),
    serverPids,
    dialect: dialectByName(args.protocol),
    members: args.members,
    rooms: args.rooms,
    publishers: args.publishers,
    direct: args.direct,
    slow: args.slow,
    // Several URLs whose listeners were not all found: no CPU figure rather than one node's.
    serverPid: args.urls.length > 1 && !serverPids ? undefined : serverPid,
    sourceAddresses: args.sourceAddresses,
    connectConcurrency: args.connectConcurrency,
    log: args.progress ? log : undefined,
  });
  const tty = process.stderr.isTTY;
  try {
    await session.connect();
    const perRoom = args.members / args.rooms;
    const rate = args.rate ?? (args.deliveries !== undefined ? args.deliveries / perRoom : 1000);
    const result = await session.step({
      rate,
      size: args.size,
      warmupMs: args.warmupS * 1000,
      durationMs: args.durationS * 1000,
      drainMs: args.drainS * 1000,
      readIntervalMs: args.readIntervalMs,
      progress: args.progress ? (p) => process.stderr.write(tty ? `\r${progressLine(p)}\x1b[K` : `${progressLine(p)}\n`) : undefined,
    });
    if (args.progress && tty) process.stderr.write('\n');
    if (args.json)
      process.stdout.write(
        `${JSON.stringify({ ...result, serverPid: serverPid ?? null, ...(serverPids ? { serverPids } : {}), date: new Date().toISOString() })}\n`,
      );
    else process.stdout.write(`Running ${args.durationS}s test @ ${args.urls.join(' ')} (${args.protocol})\n${formatTables(result)}\n`);
    return result.lost > 0 || result.connectErrors > 0 ? 1 : 0;
  } finally {
    await session.close();
    destroyAgents();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
