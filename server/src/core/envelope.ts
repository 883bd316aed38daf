/**
 * What one node hands every node subscribed to a topic: a frame already serialised (a message is
 * encoded once at its origin however many nodes and sockets it reaches), and what delivery needs to
 * know about it without parsing it.
 */

import type { RoomTopic, Topic, UserTopic } from './topics.ts';

export enum EnvelopeKind {
  /** A room's chat message: delivered in seq order, exactly once per connection (its subscription's cursor). */
  RoomMessage = 1,
  /** login/logout notices and other frames for every connection in a room; counts let every node's cache follow. */
  Notice = 2,
  /** The user left a room on some connection: every connection of theirs leaves it. */
  LeftRoom = 3,
  /** A direct message's live copy for one user's connections. */
  DirectMessage = 4,
  /** A frame for every connection of a user, nothing to remember (read state, typing). */
  UserEvent = 5,
  /**
   * The room's seqs started over (its store lost them: a new epoch). Each subscription's cursors
   * reset, then the text (an unrequested `joined` with the new epoch and `gap`) tells the client to
   * resume from the start. Made by each node's bus when it sees the change, never published.
   */
  RoomRestarted = 6,
}

export interface RoomCounts {
  /** Distinct members online in the room now. */
  num: number;
  /** Members of the room in all. */
  total: number;
}

export interface RoomMessageEnvelope {
  readonly kind: EnvelopeKind.RoomMessage;
  readonly topic: RoomTopic;
  readonly seq: number;
  readonly text: string;
}

export interface NoticeEnvelope {
  readonly kind: EnvelopeKind.Notice;
  readonly topic: RoomTopic;
  readonly text: string;
  /** The room's counts after the change. */
  readonly counts?: RoomCounts;
}

export interface LeftRoomEnvelope {
  readonly kind: EnvelopeKind.LeftRoom;
  readonly topic: UserTopic;
  readonly roomid: string;
  /** The `left` frame, when it says more than the room: the user was removed (kick, ban) by someone. */
  readonly text?: string;
}

export interface DirectMessageEnvelope {
  readonly kind: EnvelopeKind.DirectMessage;
  readonly topic: UserTopic;
  /** The pair's `dm:` room and the message's seq in it. */
  readonly roomid: string;
  readonly seq: number;
  readonly text: string;
}

export interface UserEventEnvelope {
  readonly kind: EnvelopeKind.UserEvent;
  readonly topic: UserTopic;
  readonly text: string;
}

export interface RoomRestartedEnvelope {
  readonly kind: EnvelopeKind.RoomRestarted;
  readonly topic: RoomTopic;
  readonly text: string;
}

export type Envelope = RoomMessageEnvelope | NoticeEnvelope | LeftRoomEnvelope | DirectMessageEnvelope | UserEventEnvelope | RoomRestartedEnvelope;

export type { Topic };
