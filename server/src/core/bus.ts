/**
 * The bus carries envelopes from the node that publishes them to every node with local subscribers
 * for the topic. The embedded implementation (local-bus.ts) delivers in-process; the Redis one uses
 * pub/sub. Room messages are not published here but by the room log (room-log.ts), in the same
 * atomic step that gives them their seq.
 */

import type { Envelope } from './envelope.ts';
import type { Topic } from './topics.ts';

export type EnvelopeHandler = (envelope: Envelope) => void;

export interface Bus {
  /** Delivers to this node's handler (when subscribed) and to every other subscribed node. */
  publish(envelope: Envelope): Promise<void>;
  /** Topics are reference-counted by the caller: subscribe once per topic, unsubscribe when unused. */
  subscribe(topic: Topic): Promise<void>;
  unsubscribe(topic: Topic): Promise<void>;
  onEnvelope(handler: EnvelopeHandler): void;
  close(): Promise<void>;
}
