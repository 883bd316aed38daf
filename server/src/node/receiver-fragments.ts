/**
 * Makes every `ws` Receiver keep one array for a message's frames for its whole life, instead of
 * the new array `ws` makes after each message.
 *
 * Why: that new array lives until the connection's next message, long enough (a member sends now
 * and then) to be promoted to V8's old generation. The next message's payload is pushed into it,
 * then the array is dropped, and it dies in the old generation, where only a mark-compact finds it:
 * until then the scavenger takes it for live, so the payload Buffer and the array's backing store
 * survive every scavenge and are copied and promoted too. In rooms of 10 at 20,000 deliveries/s
 * that was half of the bytes each scavenge promoted (docs/benchmarks.md, "The young generation and
 * the tail"). With one array per receiver, emptied once a message is complete, nothing of a message
 * is left reachable from the old generation and it dies young.
 *
 * ws 8.23's Receiver (pinned in server/package.json) collects a message's frames in `_fragments`
 * and, in `dataMessage`, replaces it with `[]` once the message is complete, after taking what it
 * hands to the listener (a Buffer, or for binaryType 'fragments' the array itself, which is then
 * left alone). Where the Receiver does not look like that, nothing is changed.
 */

interface ReceiverInternals {
  _fragments: unknown[];
  _binaryType: string;
  dataMessage(this: ReceiverInternals, cb: unknown): void;
}

const patched = new WeakSet<object>();

/** A message is complete and taken: empty the receiver's own array and keep it. */
function keepFragments(receiver: ReceiverInternals, kept: unknown[]): void {
  if (receiver._fragments === kept || receiver._fragments.length !== 0 || receiver._binaryType === 'fragments') return;
  kept.length = 0;
  receiver._fragments = kept;
}

/** ws's Receiver class: exported by the package, though not by its type declarations. */
export function receiverClass(ws: object): { prototype: object } | undefined {
  return (ws as { Receiver?: { prototype: object } }).Receiver;
}

/** Patches `Receiver.prototype` (ws's Receiver); false if there is no `dataMessage` to wrap. */
export function keepReceiverFragmentArrays(Receiver: { prototype: object } | undefined): boolean {
  if (Receiver === undefined) return false;
  const prototype = Receiver.prototype as Partial<ReceiverInternals>;
  if (patched.has(prototype)) return true;
  const dataMessage = prototype.dataMessage;
  if (typeof dataMessage !== 'function') return false;
  prototype.dataMessage = function dataMessageKeepingFragments(this: ReceiverInternals, cb: unknown): void {
    const kept = this._fragments;
    dataMessage.call(this, cb);
    if (Array.isArray(kept)) keepFragments(this, kept);
  };
  patched.add(prototype);
  return true;
}
