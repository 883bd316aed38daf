/** Autocannon-style tables. */
import type { StepResult } from './loadgen.ts';

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (l: string, m: string, r: string) => l + widths.map((w) => '─'.repeat(w + 2)).join(m) + r;
  const row = (cells: string[]) => `│${cells.map((c, i) => ` ${c.padEnd(widths[i])} `).join('│')}│`;
  return [line('┌', '┬', '┐'), row(rows[0]), line('├', '┼', '┤'), ...rows.slice(1).map(row), line('└', '┴', '┘')].join('\n');
}

const msStr = (v: number) => `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v)} ms`;
export const si = (v: number, unit = '') => {
  if (v >= 1e9) return `${(v / 1e9).toFixed(2)} G${unit}`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M${unit}`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)} k${unit}`;
  return `${Math.round(v)}${unit ? ` ${unit}` : ''}`;
};

export function formatTables(r: StepResult): string {
  const L = r.latency;
  const C = r.connect;
  const lat = table([
    ['Stat', '2.5%', '50%', '97.5%', '99%', 'Avg', 'Stdev', 'Max'],
    ['Latency', msStr(L.p2_5), msStr(L.p50), msStr(L.p97_5), msStr(L.p99), msStr(L.avg), msStr(L.stdev), msStr(L.max)],
    ['Connect', msStr(C.p2_5), msStr(C.p50), msStr(C.p97_5), msStr(C.p99), msStr(C.avg), msStr(C.stdev), msStr(C.max)],
  ]);
  const D = r.deliveriesSamples;
  const B = r.bytesSamples;
  const rates = table([
    ['Stat', '1%', '2.5%', '50%', '97.5%', 'Avg', 'Stdev', 'Min'],
    ['Deliveries/s', si(D.p1), si(D.p2_5), si(D.p50), si(D.p97_5), si(D.avg), si(D.stdev), si(D.min)],
    ['Bytes/s', si(B.p1, 'B'), si(B.p2_5, 'B'), si(B.p50, 'B'), si(B.p97_5, 'B'), si(B.avg, 'B'), si(B.stdev, 'B'), si(B.min, 'B')],
  ]);
  const c = r.cpu;
  const cpuRows: string[][] = [['CPU (% of one core)', 'user', 'sys', 'µs per delivery']];
  cpuRows.push([
    r.nodes > 1 ? `server (${r.nodes} processes, summed)` : 'server',
    c.serverUserPct === undefined ? 'n/a' : `${c.serverUserPct}%`,
    c.serverSysPct === undefined ? 'n/a' : `${c.serverSysPct}%`,
    c.serverUsPerDelivery === undefined ? 'n/a' : String(c.serverUsPerDelivery),
  ]);
  if (c.auxUserPct !== undefined)
    cpuRows.push(['redis-server (apart)', `${c.auxUserPct}%`, `${c.auxSysPct}%`, c.auxUsPerDelivery === undefined ? 'n/a' : String(c.auxUsPerDelivery)]);
  cpuRows.push(['load generator', `${c.loadgenUserPct}%`, `${c.loadgenSysPct}%`, String(c.loadgenUsPerDelivery)]);
  if (c.othersPct !== undefined) cpuRows.push(['other processes', `${c.othersPct}%`, '', '']);
  if (c.softirqPct !== undefined) cpuRows.push(['irq + softirq (unattributed)', '', `${c.softirqPct}%`, '']);
  const lines = [
    lat,
    rates,
    table(cpuRows),
    '',
    `Latency is from send to each delivery (${si(L.count)} samples, HDR histogram); connect is TCP + upgrade + ${r.protocol.startsWith('chat') ? 'welcome + join' : 'setup'}.`,
    `${si(r.deliveries)} deliveries in ${r.durationS}s (${si(r.deliveriesPerSec)}/s, target ${si(r.targetDeliveriesPerSec)}/s), ${si(r.bytesPerSec, 'B')}/s read, ${r.deliveriesPerRead} deliveries per TCP read; ` +
      `${r.sent} messages sent (${si(r.sentPerSec)}/s in the window) by ${r.publishers} publishers to ${r.members} members in ${r.rooms} room(s), ${r.size} B each.`,
    `${r.connectErrors} connect errors, ${r.errors} errors${r.errors ? ` ${JSON.stringify(r.errorCodes)}` : ''}, ${r.lost} lost, ${r.duplicated} duplicated, ` +
      `${r.closed} closed during the run${r.closed ? ` ${JSON.stringify(r.closeCodes)}` : ''}, ${r.acks} acks.`,
  ];
  if (r.reads > 0) lines.push(`${r.reads} read-cursor updates sent (${si(r.readsPerSec)}/s in the window).`);
  if (r.slow > 0) lines.push(`slow consumers: ${r.slow}, closed by the server: ${r.slowClosed} ${JSON.stringify(r.slowCloseCodes)}`);
  if (r.serverRssBefore !== undefined && r.serverRssAfter !== undefined) {
    lines.push(`server RSS ${si(r.serverRssBefore, 'B')} → ${si(r.serverRssAfter, 'B')} over the measured window.`);
  }
  if (r.loadgenBound) lines.push('NOTE: the load generator used ≥ 90% of a core: it may be the bound, compare server µs per delivery instead.');
  return lines.join('\n');
}

export function progressLine(p: { phase: string; elapsedS: number; deliveriesPerSec: number; p99: number; sent: number; errors: number }): string {
  return `[${p.phase}] ${p.elapsedS.toFixed(0)}s  ${si(p.deliveriesPerSec)} deliveries/s  p99 ${p.p99.toFixed(1)} ms  sent ${p.sent}  errors ${p.errors}`;
}
