/**
 * Prometheus metrics (prom-client). Counters mirror the core's own tallies at scrape time, so the hot
 * path only increments plain numbers; so do the fan-out histograms (bucket-histogram.ts).
 */

import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { BucketHistogram } from './bucket-histogram.ts';
import type { ChatCore } from './core/chat-core.ts';
import type { ChatStore } from './core/store.ts';
import { ErrorCode } from './protocol.ts';

export interface Metrics {
  contentType: string;
  render(): Promise<string>;
  observeFanOut(seconds: number, recipients: number): void;
  /** Handshakes refused by admission control, by reason. */
  refusedHandshake(reason: string): void;
}

function mirrorCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

export function createMetrics(getCore: () => ChatCore, store: ChatStore, backendHealthy: () => boolean): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'chatroom_' });
  const stats = () => getCore().stats;

  new Gauge({
    name: 'chatroom_connections',
    help: 'Open WebSocket connections on this node',
    registers: [registry],
    collect() {
      this.set(stats().connections);
    },
  });
  new Gauge({
    name: 'chatroom_rooms_local',
    help: 'Rooms with at least one connection on this node',
    registers: [registry],
    collect() {
      this.set(getCore().registry.byRoom.size);
    },
  });
  new Gauge({
    name: 'chatroom_output_unread_bytes',
    help: 'Bytes written to connections on this node that their clients have not read and the kernel has not taken (OUTPUT_MAX_BYTES bounds it)',
    registers: [registry],
    collect() {
      this.set(getCore().unreadOutputBytes);
    },
  });
  new Gauge({
    name: 'chatroom_backend_up',
    help: '1 when the store and bus backend is reachable',
    registers: [registry],
    collect() {
      this.set(backendHealthy() ? 1 : 0);
    },
  });

  const storeGauges = {
    rooms: new Gauge({ name: 'chatroom_store_rooms', help: 'Rooms kept by the store', registers: [registry] }),
    users: new Gauge({ name: 'chatroom_store_users', help: 'Users kept by the store', registers: [registry] }),
    historyMessages: new Gauge({ name: 'chatroom_store_history_messages', help: 'Messages kept in room history', registers: [registry] }),
    inboxMessages: new Gauge({ name: 'chatroom_store_inbox_messages', help: 'Direct messages queued for offline users', registers: [registry] }),
    bytes: new Gauge({
      name: 'chatroom_store_bytes',
      help: 'Estimated heap bytes of history and inboxes (embedded store; STORE_MAX_BYTES bounds it)',
      registers: [registry],
    }),
  };

  mirrorCounter(registry, 'chatroom_authenticated_total', 'Connections that authenticated', () => stats().authenticated);
  mirrorCounter(registry, 'chatroom_messages_in_total', 'Frames received and handled (heartbeats excluded)', () => stats().messagesIn);
  mirrorCounter(registry, 'chatroom_deliveries_total', 'Frames written to sockets', () => stats().deliveries);
  mirrorCounter(registry, 'chatroom_dropped_sends_total', 'Frames not sent because the socket had closed', () => stats().droppedSends);
  mirrorCounter(registry, 'chatroom_slow_consumer_closes_total', 'Connections closed with 4008 for reading too slowly', () => stats().slowConsumerCloses);
  mirrorCounter(registry, 'chatroom_heartbeat_terminations_total', 'Connections terminated for missing heartbeats', () => stats().heartbeatTerminations);
  mirrorCounter(registry, 'chatroom_auth_failures_total', 'Tokens refused (handshake or auth frame)', () => stats().authFailures);
  mirrorCounter(registry, 'chatroom_rate_limited_frames_total', 'Frames refused by the per-connection rate limit', () => stats().rateLimitedFrames);

  new Counter({
    name: 'chatroom_errors_total',
    help: 'Error frames sent, by code',
    labelNames: ['code', 'name'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [code, count] of Object.entries(stats().errors)) {
        this.inc({ code, name: ErrorCode[Number(code)] ?? 'unknown' }, count);
      }
    },
  });

  const refused = new Counter({
    name: 'chatroom_refused_handshakes_total',
    help: 'Upgrades refused before a socket existed',
    labelNames: ['reason'],
    registers: [registry],
  });
  const fanOut = new BucketHistogram(
    'chatroom_fanout_seconds',
    'Time to hand one published frame to every local socket on its topic',
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
  );
  const fanOutRecipients = new BucketHistogram(
    'chatroom_fanout_recipients',
    'Local sockets one published frame reached',
    [1, 2, 5, 10, 50, 100, 500, 1000, 5000],
  );

  return {
    contentType: registry.contentType,
    async render() {
      const sizes = await store.stats?.();
      if (sizes) for (const [key, gauge] of Object.entries(storeGauges)) gauge.set(sizes[key as keyof typeof sizes] ?? 0);
      return `${await registry.metrics()}\n${fanOut.render()}\n${fanOutRecipients.render()}`;
    },
    observeFanOut(seconds, recipients) {
      fanOut.observe(seconds);
      fanOutRecipients.observe(recipients);
    },
    refusedHandshake(reason) {
      refused.inc({ reason });
    },
  };
}
