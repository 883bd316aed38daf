/** Translates between the Fetch API's Request/Response and the core's HttpRequest/HttpReply. */

import type { HttpReply, HttpRequest } from '../core/http-api.ts';

export function toHttpRequest(request: Request, url: URL, remoteAddress: string): HttpRequest {
  return {
    method: request.method,
    path: url.pathname,
    origin: request.headers.get('origin') ?? undefined,
    host: request.headers.get('host') ?? undefined,
    referer: request.headers.get('referer') ?? undefined,
    remoteAddress,
    authorization: request.headers.get('authorization') ?? undefined,
    readBody: (limit) => readBody(request, limit),
  };
}

/** HEAD and the null-body statuses must not carry a body: the Response constructor refuses one. */
export function toResponse(reply: HttpReply, method: string): Response {
  const bodyless = method === 'HEAD' || reply.status === 204 || reply.status === 304;
  // A byte body as a plain-ArrayBuffer view, which every BodyInit typing accepts.
  const body = bodyless ? null : typeof reply.body === 'string' ? reply.body : new Uint8Array(reply.body);
  return new Response(body, { status: reply.status, headers: reply.headers });
}

/** A plain-text refusal of a WebSocket handshake, as the Node adapter writes it. */
export function refusal(status: number, message: string): Response {
  return new Response(message, { status, headers: { 'content-type': 'text/plain', connection: 'close' } });
}

/** The body as text, or undefined past `limit` bytes (reading stops there). */
async function readBody(request: Request, limit: number): Promise<string | undefined> {
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(body);
}
