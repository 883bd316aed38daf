/**
 * The native stack serves WebSockets to clients on this machine only. Deno.upgradeWebSocket
 * (fastwebsockets 0.8 in Deno 2.9) refuses a frame over 64 MiB but not a message: it assembles
 * continuation frames in memory without limit before the adapter sees a byte, so one client could
 * make the process allocate until it dies (a 600 MiB message ends it with "failed to allocate
 * string"). Deno has no option to cap it and no public API that hands over the raw connection of
 * an upgrade, so the refusal comes before the upgrade (docs/deno.md).
 */

import { clientAddress, isLoopback } from '../core/admission.ts';
import { refusal } from './http-exchange.ts';

export const REMOTE_CLIENT_REFUSAL = 'DENO_WEBSOCKET=native serves loopback clients only (docs/deno.md)';

/**
 * The refusal of an upgrade from another machine, or undefined for a local client. The socket must
 * be local, and a forwarded request's client too: behind a proxy on this machine every socket is
 * local. Without TRUST_PROXY nothing says where a forwarded request came from, so it is refused.
 */
export function refuseRemoteClient(socketAddress: string, forwardedFor: string | undefined, trustedProxies: readonly string[]): Response | undefined {
  const forwardedFromHere = forwardedFor === undefined || (trustedProxies.length > 0 && isLoopback(clientAddress(socketAddress, forwardedFor, trustedProxies)));
  if (isLoopback(socketAddress) && forwardedFromHere) return undefined;
  return refusal(403, REMOTE_CLIENT_REFUSAL);
}
