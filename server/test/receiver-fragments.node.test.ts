/**
 * receiver-fragments.ts on ws's own Receiver, fed real client frames (masked, fragmented): messages
 * arrive whole and in order, and each receiver keeps one emptied array for a message's frames, so
 * that nothing of a finished message stays reachable from a long-lived object.
 */

import { describe, expect, it } from 'vitest';
import * as ws from 'ws';
import { keepReceiverFragmentArrays, receiverClass } from '../src/node/receiver-fragments.ts';

interface TestReceiver {
  _fragments: unknown[];
  write(chunk: Buffer, encoding: string, cb: (err?: Error) => void): void;
  on(event: 'message', listener: (data: unknown, isBinary: boolean) => void): void;
}

const { Sender } = ws as unknown as { Sender: { frame(data: Buffer, options: object): Buffer[] } };
const Receiver = receiverClass(ws) as unknown as new (options: object) => TestReceiver;

/** A client frame: masked, as a browser or mini-program sends it. */
const frame = (text: string | Buffer, opcode: number, fin: boolean): Buffer =>
  Buffer.concat(Sender.frame(Buffer.from(text), { fin, mask: true, opcode, readOnly: false, rsv1: false }));

function receiver(binaryType = 'nodebuffer'): { receiver: TestReceiver; messages: Array<{ data: unknown; isBinary: boolean }>; feed(bytes: Buffer): void } {
  const r = new Receiver({ isServer: true, binaryType, maxPayload: 1 << 20 });
  const messages: Array<{ data: unknown; isBinary: boolean }> = [];
  r.on('message', (data, isBinary) => messages.push({ data, isBinary }));
  return {
    receiver: r,
    messages,
    feed: (bytes) =>
      r.write(bytes, 'buffer', (err) => {
        if (err) throw err;
      }),
  };
}

describe("ws's Receiver keeps one array for a message's frames", () => {
  it('applies to the ws this server is pinned to, once', () => {
    expect(keepReceiverFragmentArrays(receiverClass(ws))).toBe(true);
    expect(keepReceiverFragmentArrays(receiverClass(ws))).toBe(true);
    expect(keepReceiverFragmentArrays(undefined)).toBe(false);
    expect(keepReceiverFragmentArrays(class {})).toBe(false);
  });

  it('whole messages and fragmented ones arrive intact and in order, and the array is emptied and kept', () => {
    keepReceiverFragmentArrays(receiverClass(ws));
    const { receiver: r, messages, feed } = receiver();
    const array = r._fragments;
    feed(frame('{"event":"message","message":"one"}', 1, true));
    expect(r._fragments).toBe(array);
    expect(array).toHaveLength(0);
    // A text message in three frames (text, continuation, continuation), a ping between them.
    feed(Buffer.concat([frame('{"event":"message",', 1, false), frame('"message":"t', 0, false), frame('', 9, true), frame('wo"}', 0, true)]));
    feed(frame('three', 1, true));
    expect(messages.map((m) => String(m.data))).toEqual(['{"event":"message","message":"one"}', '{"event":"message","message":"two"}', 'three']);
    expect(r._fragments).toBe(array);
    expect(array).toHaveLength(0);
  });

  it("binaryType 'fragments' hands the array itself to the listener, which keeps its contents", () => {
    keepReceiverFragmentArrays(receiverClass(ws));
    const { messages, feed } = receiver('fragments');
    feed(Buffer.concat([frame(Buffer.from([1, 2]), 2, false), frame(Buffer.from([3]), 0, true)]));
    feed(frame(Buffer.from([4]), 2, true));
    expect(messages.map((m) => (m.data as Buffer[]).map((b) => [...b]))).toEqual([[[1, 2], [3]], [[4]]]);
  });
});
