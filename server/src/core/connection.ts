/** Former names, kept while the adapters move over: a connection is a Session now (session.ts). */
export type { Session as Connection, Transport } from './session.ts';
