/** Command-line parsing for `npm run bench -- [options] <url>`. */

export interface BenchArgs {
  /** The first URL. */
  url: string;
  /** Every URL given (one per node of the service); members spread round-robin over them. */
  urls: string[];
  protocol: string;
  members: number;
  rooms: number;
  publishers: number;
  /** Direct-message pairs instead of rooms (rooms = members / 2). */
  direct: boolean;
  size: number;
  /** Messages/s in all; or derived from deliveries. */
  rate?: number;
  deliveries?: number;
  durationS: number;
  warmupS: number;
  drainS: number;
  slow: number;
  /** Each member sends a read-cursor update this often (ms); 0: none. */
  readIntervalMs: number;
  serverPid?: number;
  /** --server-pid with a list: one pid per node, CPU summed. */
  serverPids?: number[];
  sourceAddresses?: string[];
  connectConcurrency: number;
  json: boolean;
  progress: boolean;
}

export const HELP = `Usage: npm run bench -- [options] <url> [<url> ...]

Opens N member connections over R rooms; P publishers send S-byte messages at a total rate for a
warm-up and a duration, then prints latency (send to each delivery), deliveries/s, bytes/s,
connect time, errors, lost and duplicated messages, and CPU of server and load generator.
Loopback targets only (localhost, 127.0.0.0/8, ::1).

  <url>                        ws://127.0.0.1:8443/ (wss:// works; certificates are not checked)
  <url> <url> ...              several nodes of one service (say, sharing Redis): member i (and
                               publisher i) connects to, and logs in at, URL i mod the number of
                               URLs; the server CPU is the sum over the nodes' processes
  -p, --protocol NAME          chat (our protocol, logs in via POST /api/login; default),
                               chat-noauth, course (the course's naive server), socketio
  -c, --members N              member connections (default 100)
  -r, --rooms R                rooms; member i joins room i mod R (default 1)
  -P, --publishers P           publishers among the members, spread over the rooms (default 10)
      --direct                 direct messages: members i and i + N/2 are a pair (no rooms; -r is
                               ignored), publisher i sends to its partner, and each message is
                               delivered to the partner and back to the sender (2 deliveries)
  -s, --size S                 message text bytes (default 100)
  -R, --rate M                 messages/s, all publishers together (default 1000)
  -D, --deliveries D           target deliveries/s instead of --rate (rate = D / members per room)
  -d, --duration SEC           measured seconds (default 10)
  -w, --warmup SEC             warm-up seconds, not measured (default 2)
      --drain SEC              longest wait for the last deliveries (default 3)
      --slow K                 K members stop reading during the run (slow consumers)
      --read-interval MS       every member sends a read-cursor update this often (our protocol;
                               staggered over the interval), to measure what read state costs
      --server-pid PID[,PID…]  read the server's CPU from /proc/PID (default: each port's listener);
                               with several, their CPU is summed
      --source-addresses LIST  comma-separated local addresses (default 127.0.0.1, .2… when needed)
      --connect-concurrency N  connections opened at once (default 64)
  -j, --json                   print one JSON line instead of tables
      --no-progress            no progress line
  -h, --help
`;

export function parseArgs(argv: string[]): BenchArgs {
  const a: BenchArgs = {
    url: '',
    urls: [],
    protocol: 'chat',
    members: 100,
    rooms: 1,
    publishers: 10,
    direct: false,
    size: 100,
    durationS: 10,
    warmupS: 2,
    drainS: 3,
    slow: 0,
    readIntervalMs: 0,
    connectConcurrency: 64,
    json: false,
    progress: true,
  };
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) throw new Error(`${flag} needs a non-negative number, got "${v}"`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case '-h':
      case '--help':
        throw new HelpRequested();
      case '-p':
      case '--protocol':
        a.protocol = String(value());
        break;
      case '-c':
      case '--members':
        a.members = num(flag, value());
        break;
      case '-r':
      case '--rooms':
        a.rooms = Math.max(1, num(flag, value()));
        break;
      case '-P':
      case '--publishers':
        a.publishers = Math.max(1, num(flag, value()));
        break;
      case '--direct':
        a.direct = true;
        break;
      case '-s':
      case '--size':
        a.size = num(flag, value());
        break;
      case '-R':
      case '--rate':
        a.rate = num(flag, value());
        break;
      case '-D':
      case '--deliveries':
        a.deliveries = num(flag, value());
        break;
      case '-d':
      case '--duration':
        a.durationS = num(flag, value());
        break;
      case '-w':
      case '--warmup':
        a.warmupS = num(flag, value());
        break;
      case '--drain':
        a.drainS = num(flag, value());
        break;
      case '--slow':
        a.slow = num(flag, value());
        break;
      case '--read-interval':
        a.readIntervalMs = num(flag, value());
        break;
      case '--server-pid': {
        const pids = String(value())
          .split(',')
          .filter(Boolean)
          .map((p) => num(flag, p));
        a.serverPid = pids[0];
        if (pids.length > 1) a.serverPids = pids;
        break;
      }
      case '--source-addresses':
        a.sourceAddresses = String(value()).split(',').filter(Boolean);
        break;
      case '--connect-concurrency':
        a.connectConcurrency = Math.max(1, num(flag, value()));
        break;
      case '-j':
      case '--json':
        a.json = true;
        break;
      case '--no-progress':
        a.progress = false;
        break;
      default:
        if (arg.startsWith('-')) throw new Error(`unknown option ${arg}`);
        if (!a.url) a.url = arg;
        a.urls.push(arg);
    }
  }
  if (!a.url) throw new Error('missing <url>');
  if (a.direct) {
    if (a.members % 2 !== 0) throw new Error('--direct needs an even number of members');
    a.rooms = a.members / 2;
  }
  if (a.publishers > a.rooms && a.direct) a.publishers = a.rooms;
  if (a.publishers > a.members) a.publishers = a.members;
  if (a.durationS <= 0 || a.durationS > 600) throw new Error('--duration must be in (0, 600] seconds');
  return a;
}

export class HelpRequested extends Error {}
