/**
 * The bus carries what one node publishes to every node that has local subscribers for the topic.
 * The embedded implementation (local-bus.ts) delivers in-process; a Redis one uses pub/sub.
 *
 * Envelopes carry the frame already serialised, so a message is encoded once at its origin however
 * many nodes and sockets it reaches.
 */

export enum EnvelopeKind {
  /** A chat message with a seq: delivered in seq order, remembered as the last seq delivered. */
  Message = 1,
  /** login/logout notices and anything else for every connection on the topic. */
  Notice = 2,
  /** The user left a room on some connection: every connection of theirs leaves it. */
  LeftRoom = 3,
}

export interface Envelope {
  topic: string;
  kind: EnvelopeKind;
  /** The serialised frame. Empty for control envelopes. */
  text: string;
  roomid?: string;
  seq?: number;
  /** Notices: the room's counts after the change, so every node's cache follows. */
  num?: number;
  total?: number;
}

export type EnvelopeHandler = (envelope: Envelope) => void;

export interface Bus {
  /** Delivers to this node's handler (when subscribed) and to every other subscribed node. */
  publish(envelope: Envelope): Promise<void>;
  /** Topics are reference-counted by the caller: subscribe once per topic, unsubscribe when unused. */
  subscribe(topic: string): Promise<void>;
  unsubscribe(topic: string): Promise<void>;
  onEnvelope(handler: EnvelopeHandler): void;
  close(): Promise<void>;
}

export const roomTopic = (roomid: string): string => `room:${roomid}`;
export const userTopic = (uid: string): string => `user:${uid}`;
