/**
 * The hot path: what the bus hands this node goes to the local sessions it is for. A payload is
 * prepared once per envelope, however many sockets it reaches; a room message goes through each
 * connection's subscription, which sends it exactly once and holds it during a join's replay.
 */

import { type DirectMessageEnvelope, type Envelope, EnvelopeKind, type LeftRoomEnvelope } from './envelope.ts';
import type { LocalRegistry } from './local-registry.ts';
import type { Outbound } from './outbound.ts';
import type { Session } from './session.ts';

export interface FanOutHooks<P> {
  /** A direct message for `uid` found only connections that are closing here: queue it for them. */
  requeueDirect(uid: string, envelope: DirectMessageEnvelope, closing: Set<Session<P>> | undefined): void;
  /** The user left the room on another connection: this one leaves it too. */
  leftElsewhere(session: Session<P>, envelope: LeftRoomEnvelope): void;
  /** After each fan-out: its duration and the sockets it reached (for /metrics). */
  observe?: (seconds: number, recipients: number) => void;
}

function hasOpen<P>(sessions: Set<Session<P>> | undefined): boolean {
  if (sessions) for (const session of sessions) if (session.open) return true;
  return false;
}

export class FanOut<P> {
  constructor(
    private readonly registry: LocalRegistry<P>,
    private readonly out: Outbound<P>,
    private readonly hooks: FanOutHooks<P>,
  ) {}

  /** The bus's handler. */
  readonly handle = (envelope: Envelope): void => {
    const observe = this.hooks.observe;
    if (!observe) return this.route(envelope);
    const started = performance.now();
    const before = this.out.stats.deliveries;
    this.route(envelope);
    observe((performance.now() - started) / 1000, this.out.stats.deliveries - before);
  };

  private route(envelope: Envelope): void {
    if (envelope.kind === EnvelopeKind.RoomMessage || envelope.kind === EnvelopeKind.Notice || envelope.kind === EnvelopeKind.RoomRestarted) {
      const roomid = envelope.topic.roomid;
      const sessions = this.registry.byRoom.get(roomid);
      if (!sessions) return;
      let payload: P | undefined;
      for (const session of sessions) {
        if (!this.admitted(session, roomid, envelope)) continue;
        this.out.sendPayload(session, (payload ??= this.out.prepare(envelope.text)));
      }
      return;
    }
    const uid = envelope.topic.uid;
    const sessions = this.registry.byUser.get(uid);
    if (envelope.kind === EnvelopeKind.LeftRoom) {
      if (sessions) for (const session of sessions) this.hooks.leftElsewhere(session, envelope);
      return;
    }
    if (envelope.kind === EnvelopeKind.DirectMessage && !hasOpen(sessions)) return this.hooks.requeueDirect(uid, envelope, sessions);
    if (!sessions) return;
    const payload = this.out.prepare(envelope.text);
    const except = envelope.kind === EnvelopeKind.UserEvent ? envelope.except : undefined;
    for (const session of sessions) if (session.id !== except) this.out.sendPayload(session, payload);
  }

  /** Whether this session gets a room's envelope now (it may be held for a replay, or sent already). */
  private admitted(session: Session<P>, roomid: string, envelope: Envelope): boolean {
    const sub = session.subscription(roomid);
    if (!sub) return false;
    // Nothing reaches a closing socket: its seq must not count as sent, or the offline cursor
    // written when it is gone would skip this message.
    if (!session.open) {
      this.out.stats.droppedSends += 1;
      return false;
    }
    return sub.offer(envelope);
  }

  /** Delivers envelopes a join held back, in order, to that one session. */
  release(session: Session<P>, roomid: string, held: Envelope[]): void {
    for (const envelope of held) {
      if ('text' in envelope && envelope.text !== undefined && this.admitted(session, roomid, envelope)) this.out.sendText(session, envelope.text);
    }
  }
}
