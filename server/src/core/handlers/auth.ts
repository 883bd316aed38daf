/** `auth`: the first token makes the connection a user; a later one of the same user renews it. */

import { type AuthFrame, CloseCode, ErrorCode, ServerEvent } from '../../protocol.ts';
import type { Identity } from '../auth.ts';
import type { CoreContext } from '../context.ts';
import type { Session } from '../session.ts';

export const EXPIRED = 'please auth again, your token is expired!';

export async function handleAuth<P>(ctx: CoreContext<P>, session: Session<P>, frame: AuthFrame): Promise<void> {
  const ref = frame.id;
  const result = ctx.auth.verify(frame.message);
  if (!result.ok) {
    ctx.counters.authFailures += 1;
    ctx.out.send(session, { event: ServerEvent.NoAuth, message: result.expired ? EXPIRED : `auth failed: ${result.reason}`, ref });
    return;
  }
  const { identity } = result;
  if (session.identity && session.identity.uid !== identity.uid) {
    ctx.out.error(session, { code: ErrorCode.ForgedIdentity, message: 'a connection cannot change user; open a new one', ref });
    return;
  }
  if (session.identity) {
    session.renewed(identity);
    armExpiry(ctx, session);
  } else {
    await attachUser(ctx, session, identity);
  }
  ctx.out.reply(session, { event: ServerEvent.Authed, uid: identity.uid, name: identity.name, expiresAt: identity.expiresAt, ref });
}

/** The session becomes `identity`: it joins the user's topic and takes the inbox if it is their first connection. */
export async function attachUser<P>(ctx: CoreContext<P>, session: Session<P>, identity: Identity): Promise<void> {
  session.authenticated(identity);
  ctx.counters.authenticated += 1;
  armExpiry(ctx, session);
  // Marked first: should the store fail midway (4503), the cleanup at close still undoes what it did.
  session.countedOnlineInStore();
  // Subscribe before counting the user online, so a direct message is either queued or seen live.
  await ctx.registry.addUser(identity.uid, session);
  const result = await ctx.store.connectUser(identity.uid, identity.name, session.id);
  for (const message of result.inbox) ctx.out.sendText(session, JSON.stringify({ ...message, replay: true }));
}

function armExpiry<P>(ctx: CoreContext<P>, session: Session<P>): void {
  session.armExpiry(() => {
    ctx.out.send(session, { event: ServerEvent.NoAuth, message: EXPIRED });
    session.transport.close(CloseCode.AuthExpired, 'token expired');
  });
}
