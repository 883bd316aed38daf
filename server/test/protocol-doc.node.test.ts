/**
 * docs/protocol.md against server/src/protocol.ts: every event, error code and close code of the
 * module is in the doc's tables (by name and by value), and the tables hold nothing the module lacks.
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ClientEvent, CloseCode, ErrorCode, ServerEvent } from '../src/protocol.ts';

const PROTOCOL_DOC = readFileSync(fileURLToPath(new URL('../../docs/protocol.md', import.meta.url)), 'utf8');

/** The tables under the `## heading` section, each as rows of cells (header and rule left out). */
function tablesIn(heading: string): string[][][] {
  const sections = PROTOCOL_DOC.split(/^## /m).filter((section) => section.startsWith(`${heading}\n`));
  if (sections.length !== 1) throw new Error(`docs/protocol.md has ${sections.length} sections "## ${heading}"`);
  const tables: string[][][] = [];
  let current: string[][] | undefined;
  for (const line of sections[0].split('\n')) {
    if (!line.startsWith('|')) {
      current = undefined;
      continue;
    }
    const cells = line.split('|').slice(1, -1).map((cell) => cell.trim());
    if (!current) tables.push((current = []));
    else if (!/^-+$/.test(cells[0])) current.push(cells);
  }
  return tables;
}

/** A numeric enum as code -> member name. */
function codesOf(numericEnum: Record<string, string | number>): Map<number, string> {
  return new Map(Object.entries(numericEnum).flatMap(([name, value]) => (typeof value === 'number' ? [[value, name] as [number, string]] : [])));
}

/** `event` names in the first column of a section's first table. */
function eventsIn(heading: string): string[] {
  return tablesIn(heading)[0].map(([cell]) => {
    const event = /^`([a-z]+)`$/.exec(cell)?.[1];
    if (!event) throw new Error(`not an event: ${cell}`);
    return event;
  });
}

/** code -> name of a `| code | name | when |` table. */
function codeTable(rows: string[][]): Map<number, string> {
  return new Map(rows.map(([code, name]) => [Number(code), name]));
}

describe('docs/protocol.md and server/src/protocol.ts', () => {
  it('lists every client event, and no other', () => {
    expect(eventsIn('Client → server').sort()).toEqual(Object.values(ClientEvent).sort());
  });

  it('lists every server event, and no other', () => {
    expect(eventsIn('Server → client').sort()).toEqual(Object.values(ServerEvent).sort());
  });

  it('lists every error code with its name, and no other', () => {
    const [table] = tablesIn('Errors');
    expect([...codeTable(table)].sort()).toEqual([...codesOf(ErrorCode)].sort());
  });

  it('lists every close code the server uses with its name, and no other', () => {
    const [ours] = tablesIn('Close codes');
    expect([...codeTable(ours)].sort()).toEqual([...codesOf(CloseCode)].sort());
  });

  it('lists the WebSocket layer codes apart: RFC 6455 codes that CloseCode does not have', () => {
    const [, layer] = tablesIn('Close codes');
    const codes = layer.map(([code]) => Number(code));
    expect(codes.length).toBeGreaterThan(0);
    for (const code of codes) {
      expect(code).toBeGreaterThanOrEqual(1000);
      expect(code).toBeLessThanOrEqual(1015);
      expect(codesOf(CloseCode).has(code)).toBe(false);
    }
  });
});
