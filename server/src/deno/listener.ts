/**
 * The HTTP(S) listener. Deno.serve cannot change its certificate, so a renewed TLS_CERT/TLS_KEY
 * starts a second listener on the same port (SO_REUSEPORT) and retires the first: new handshakes
 * get the new certificate, and upgraded sockets, which no longer belong to a listener, stay open.
 */

import type { ChatApp } from '../chat-app.ts';
import type { Listener } from '../running-server.ts';
import { type TlsMaterial, watchCertificate } from '../tls-material.ts';

type Handler = Deno.ServeOptions['handler'];

export function listen(app: ChatApp, handler: Handler): Listener {
  const { config, tls, logger } = app;
  const reloadable = tls?.source === 'configured';
  const serve = (port: number, material: TlsMaterial | undefined): Deno.HttpServer =>
    Deno.serve({
      hostname: config.host,
      port,
      reusePort: reloadable,
      ...(material ? { cert: material.cert, key: material.key } : {}),
      handler,
      onListen: () => {},
      onError: (err) => {
        logger.error('http handler failed', { err: String(err) });
        return new Response('{"error":"internal error"}', { status: 500, headers: { 'content-type': 'application/json' } });
      },
    });

  let server = serve(config.port, tls);
  const port = server.addr.port;
  const stopWatching =
    reloadable && tls
      ? watchCertificate(
          app.platform,
          tls,
          config.tlsReloadIntervalMs,
          (next) => {
            let replacement: Deno.HttpServer;
            try {
              replacement = serve(port, next);
            } catch (err) {
              logger.warn('renewed tls certificate not usable; keeping the current one', { path: next.certPath, reason: (err as Error).message });
              return;
            }
            void server.shutdown();
            server = replacement;
          },
          logger,
        )
      : undefined;

  return {
    port,
    stop: () => {
      stopWatching?.();
      void server.shutdown();
    },
  };
}
