/** Command-line options shared by the measuring tools (ab, callgrind, core-cost, profile, write-cost): `--name value` and `--flag`. */

import { dialectByName } from './dialects.ts';
import { Session, type SessionOptions } from './loadgen.ts';
import { PEERS, type RunningPeer } from './peers.ts';

export interface ToolArgs {
  /** The value after `--name`, or `dflt`. */
  opt(name: string, dflt: string): string;
  num(name: string, dflt: number): number;
  flag(name: string): boolean;
}

export function toolArgs(argv = process.argv.slice(2)): ToolArgs {
  const opt = (name: string, dflt: string) => {
    const i = argv.indexOf(name);
    return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
  };
  return { opt, num: (name, dflt) => Number(opt(name, String(dflt))), flag: (name) => argv.includes(name) };
}

/** The load of a tool's run: `--members N` in `--rooms R` (or `--direct` pairs), `--publishers P`. */
export interface ToolLoad {
  members: number;
  rooms: number;
  publishers: number;
  direct: boolean;
}

export function toolLoad(args: ToolArgs, defaults: { members: number; rooms: number; publishers?: number }): ToolLoad {
  const members = args.num('--members', defaults.members);
  const direct = args.flag('--direct');
  const rooms = direct ? members / 2 : args.num('--rooms', defaults.rooms);
  // Default: one publisher a room (or pair).
  const publishers = args.num('--publishers', defaults.publishers ?? rooms);
  return { members, rooms, publishers, direct };
}

/** The load generator's session for a tool's run against `id`'s launched server; `extra` adds options. */
export function toolSession(id: string, peer: RunningPeer, load: ToolLoad, extra: Partial<SessionOptions> = {}): Session {
  return new Session({ url: peer.url, dialect: dialectByName(PEERS[id].protocol), ...load, ...extra });
}
