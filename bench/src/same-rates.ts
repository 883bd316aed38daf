/** CPU per delivery of two servers compared at the same offered rates (bench:compare's ratios). */

import type { Point } from './compare.ts';
import { median } from './stats.ts';

/**
 * Server ÷ peer CPU per delivery at the rates both passed. `cpuPerServer` compares each at its own
 * sustained rate, and a server's cost per delivery falls as its rate rises (more sockets ready per
 * wake-up, more written per system call), so a peer that sustained less looks dearer there than it
 * is. Here each rate that both passed gives a ratio of the medians of their passing steps; the
 * result is the median of those ratios, with the rates it used.
 */
export function cpuAtSameRates(points: Point[], workload: string | undefined, server: string, peer: string): { ratio: number; rates: number[] } | null {
  const cost = (p: Point) => (p.serverUsPerDelivery ?? Number.NaN) + (p.auxUsPerDelivery ?? 0);
  const byRate = (id: string) => {
    const m = new Map<number, number[]>();
    for (const p of points) {
      if (p.server !== id || p.workload !== workload || !p.pass || !Number.isFinite(cost(p))) continue;
      m.set(p.target, [...(m.get(p.target) ?? []), cost(p)]);
    }
    return m;
  };
  const xs = byRate(server);
  const ys = byRate(peer);
  const rates = [...xs.keys()].filter((r) => ys.has(r)).sort((a, b) => a - b);
  if (rates.length === 0) return null;
  const ratios = rates.map((r) => median(xs.get(r)!) / median(ys.get(r)!));
  return { ratio: median(ratios), rates };
}
