import { describe, expect, it } from 'vitest';
import { pin, shiftDown, shiftUp, showsNewest, windowRange } from '../src/lib/message-window';

const items = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${i}` }));

describe('message window', () => {
  it('follows the newest items, at most `size` of them', () => {
    expect(windowRange(items(1_000), { startKey: undefined }, 80)).toEqual({ start: 920, end: 1_000 });
    expect(windowRange(items(10), { startKey: undefined }, 80)).toEqual({ start: 0, end: 10 });
  });

  it('pinned by key: items added below or above do not move it', () => {
    const list = items(1_000);
    const state = pin(list, { startKey: undefined }, 80);
    list.push({ key: 'new' });
    list.unshift({ key: 'older' });
    expect(windowRange(list, state, 80)).toEqual({ start: 921, end: 1_001 });
    expect(showsNewest(list, state, 80)).toBe(false);
  });

  it('moves up by `step` to the first item, keeping the first shown item as anchor, and back down to following', () => {
    const list = items(200);
    let state = pin(list, { startKey: undefined }, 80);
    const seen: number[] = [];
    for (let moved = shiftUp(list, state, 80, 40); moved; moved = shiftUp(list, state, 80, 40)) {
      expect(list.findIndex((i) => i.key === moved!.anchor)).toBe(windowRange(list, state, 80).start);
      state = moved.state;
      seen.push(windowRange(list, state, 80).start);
    }
    expect(seen).toEqual([80, 40, 0]);
    for (let moved = shiftDown(list, state, 80, 40); moved; moved = shiftDown(list, state, 80, 40)) state = moved.state;
    expect(state.startKey).toBeUndefined();
    expect(windowRange(list, state, 80)).toEqual({ start: 120, end: 200 });
  });
});
