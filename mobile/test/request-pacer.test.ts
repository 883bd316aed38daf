import type { ClientFrame } from '@chatroom/server/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Priority, RequestPacer } from '../src/lib/request-pacer';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const join = (i: number): ClientFrame => ({ event: 'join', roomid: `room-${i}`, id: `j${i}` });

describe('request pacer', () => {
  it('sends a burst, then at the sustained rate', async () => {
    const sent: string[] = [];
    const pacer = new RequestPacer((f) => sent.push(f.event), { ratePerSec: 10, burst: 5, maxInFlight: 100 });
    for (let i = 0; i < 25; i++) pacer.push(join(i), Priority.Sync);
    expect(sent).toHaveLength(5);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sent).toHaveLength(15);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sent).toHaveLength(25);
  });

  it('holds requests while the window of unanswered ones is full, and sends on each answer', async () => {
    const sent: string[] = [];
    const pacer = new RequestPacer((f) => sent.push((f as { id: string }).id), { ratePerSec: 1_000, burst: 1_000, maxInFlight: 3 });
    for (let i = 0; i < 5; i++) pacer.push(join(i), Priority.Sync, `j${i}`);
    expect(sent).toEqual(['j0', 'j1', 'j2']);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(sent).toHaveLength(3);
    pacer.answered('j1');
    await vi.advanceTimersByTimeAsync(10);
    expect(sent).toEqual(['j0', 'j1', 'j2', 'j3']);
    // A request never answered frees its place after 10 s.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sent).toEqual(['j0', 'j1', 'j2', 'j3', 'j4']);
  });

  it('an answer before a token is there still lets the next request go as soon as one is', async () => {
    const sent: string[] = [];
    const pacer = new RequestPacer((f) => sent.push((f as { id: string }).id), { ratePerSec: 10, burst: 2, maxInFlight: 2 });
    for (let i = 0; i < 3; i++) pacer.push(join(i), Priority.Sync, `j${i}`);
    pacer.answered('j0');
    await vi.advanceTimersByTimeAsync(110);
    expect(sent).toEqual(['j0', 'j1', 'j2']);
  });

  it('heartbeat answers and own messages go before queued catch-up', () => {
    const sent: string[] = [];
    const pacer = new RequestPacer((f) => sent.push(f.event), { ratePerSec: 1, burst: 1, maxInFlight: 10 });
    pacer.push(join(0), Priority.Sync);
    for (let i = 1; i < 4; i++) pacer.push(join(i), Priority.Sync);
    pacer.push({ event: 'message', roomid: 'r', message: 'hi', id: 'm1' }, Priority.Message);
    pacer.push({ event: 'heartbeat', message: 'pong' }, Priority.Control);
    vi.advanceTimersByTime(1_000);
    vi.advanceTimersByTime(1_000);
    expect(sent).toEqual(['join', 'heartbeat', 'message']);
  });

  it('a refusal halves the pace and pauses a second', async () => {
    const sent: number[] = [];
    const pacer = new RequestPacer(() => sent.push(Date.now()), { ratePerSec: 10, burst: 1, maxInFlight: 100 });
    pacer.push(join(0), Priority.Sync);
    pacer.slowDown();
    const refusedAt = Date.now();
    for (let i = 1; i < 4; i++) pacer.push(join(i), Priority.Sync);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(sent.slice(1).map((t) => t - refusedAt)).toEqual([1_000, 1_200, 1_400]);
  });
});
