// bench:compare --interleave: two servers' searches take turns step by step, never overlapping.
import { describe, expect, it } from 'vitest';
import { Turns } from '../src/turns.ts';

describe('searches taking turns', () => {
  it('alternates two searches step by step, one step at a time, and goes on after a failed step', async () => {
    const turns = new Turns();
    const order: string[] = [];
    let running = 0;
    let overlapped = false;
    const step = (name: string, i: number) =>
      turns.run(async () => {
        running += 1;
        if (running > 1) overlapped = true;
        order.push(`${name}${i}`);
        // A step waits on I/O: another search's step must not start meanwhile.
        await new Promise((resolve) => setImmediate(resolve));
        running -= 1;
        if (name === 'b' && i === 1) throw new Error('server gone');
      });
    const search = async (name: string, steps: number) => {
      for (let i = 0; i < steps; i++) await step(name, i).catch(() => undefined);
    };
    await Promise.all([search('a', 3), search('b', 3)]);
    expect(overlapped).toBe(false);
    expect(order).toEqual(['a0', 'b0', 'a1', 'b1', 'a2', 'b2']);
  });
});
