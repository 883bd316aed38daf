// bench:compare's CPU ratio at the rates both servers passed, not each at its own sustained rate.
import { describe, expect, it } from 'vitest';
import type { Point } from '../src/compare.ts';
import { cpuAtSameRates } from '../src/same-rates.ts';

const point = (server: string, target: number, us: number, pass = true, workload = 'dm'): Point => ({
  server,
  workload,
  members: 10_000,
  target,
  achieved: target,
  p50: 1,
  p99: 5,
  lost: 0,
  pass,
  why: pass ? '' : 'p99',
  serverUsPerDelivery: us,
  loadgenPct: 50,
  loadgenUsPerDelivery: 10,
  loadgenBound: false,
});

describe('CPU per delivery at the same rates', () => {
  it('compares only rates both passed, by the median of each rate', () => {
    const points = [
      point('ours', 10_000, 40),
      point('ours', 20_000, 36),
      point('ours', 20_000, 30),
      point('ours', 20_000, 34),
      point('ours', 40_000, 99, false),
      point('uws', 10_000, 20),
      point('uws', 20_000, 17),
      // uWS's cheaper deliveries at a rate ours did not pass are left out.
      point('uws', 40_000, 10),
      // Another workload's points do not count.
      point('uws', 20_000, 1, true, 'rooms10'),
    ];
    const same = cpuAtSameRates(points, 'dm', 'ours', 'uws');
    expect(same?.rates).toEqual([10_000, 20_000]);
    // 40/20 = 2 at 10k, 34/17 = 2 at 20k.
    expect(same?.ratio).toBe(2);
  });

  it('has nothing to say when no rate passed for both', () => {
    expect(cpuAtSameRates([point('ours', 10_000, 40), point('uws', 20_000, 20)], 'dm', 'ours', 'uws')).toBeNull();
  });
});
