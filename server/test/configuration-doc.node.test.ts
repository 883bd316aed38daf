/**
 * docs/configuration.md against the code: every environment variable the server reads is
 * documented with its real default, and every documented variable is read.
 *
 * What loadConfig reads is recorded, not listed by hand: it gets a Proxy as its environment. Some
 * variables are read only on some paths (DEV_LOGIN_WITH_REAL_CERT only with TLS_CERT and the
 * development login on), so it runs in a few contexts that open those paths; a scan of config.ts's
 * source checks that no variable it names was missed that way.
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Config, loadConfig } from '../src/config.ts';

const CONFIGURATION_DOC = readFileSync(fileURLToPath(new URL('../../docs/configuration.md', import.meta.url)), 'utf8');
const CONFIG_SOURCE = readFileSync(fileURLToPath(new URL('../src/config.ts', import.meta.url)), 'utf8');
const DENO_MAIN_SOURCE = readFileSync(fileURLToPath(new URL('../src/main-deno.ts', import.meta.url)), 'utf8');

type Env = Record<string, string>;

/** Environments that take loadConfig down each of its paths: the plain one first. */
const CONTEXTS: Env[] = [
  {},
  // A configured certificate with the development login on: asks for DEV_LOGIN_WITH_REAL_CERT.
  { TLS_CERT: '/etc/chat/cert.pem', TLS_KEY: '/etc/chat/key.pem' },
  // The team's own RS256 issuer.
  { JWT_PUBLIC_KEY: '/etc/chat/issuer.pem', DEV_LOGIN: 'false' },
];

/** The config loadConfig makes of `env` (or the error it throws), and every variable it read. */
function load(env: Env): { result: Config | string; read: Set<string> } {
  const read = new Set<string>();
  const recording = new Proxy(env, {
    get(target, key) {
      if (typeof key === 'string') read.add(key);
      return target[key as string];
    },
  });
  try {
    return { result: loadConfig(recording), read };
  } catch (err) {
    return { result: `error: ${(err as Error).message}`, read };
  }
}

const readAnywhere = new Set(CONTEXTS.flatMap((context) => [...load(context).read]));

/** Variables the Deno entry point reads from its environment itself, with their defaults. */
const DENO_VARIABLES = new Map([...DENO_MAIN_SOURCE.matchAll(/\benv\.([A-Z][A-Z0-9_]*)\?\.trim\(\) \|\| '([^']*)'/g)].map((m) => [m[1], m[2]]));

interface DocumentedVariable {
  name: string;
  /** The default cell as written. */
  cell: string;
  /** The value in backticks it starts with, or undefined when it describes an unset default in words. */
  literal: string | undefined;
}

/** The rows of every `| variable | default | meaning |` table. */
function documentedVariables(): DocumentedVariable[] {
  const rows: DocumentedVariable[] = [];
  let inTable = false;
  for (const line of CONFIGURATION_DOC.split('\n')) {
    if (/^\| variable \| default \|/.test(line)) {
      inTable = true;
      continue;
    }
    if (!line.startsWith('|')) inTable = false;
    if (!inTable || line.startsWith('|---')) continue;
    const [name, cell] = line
      .split('|')
      .slice(1, 3)
      .map((c) => c.trim());
    const variable = /^`([A-Z][A-Z0-9_]*)`$/.exec(name)?.[1];
    if (!variable) throw new Error(`not a variable row: ${line}`);
    rows.push({ name: variable, cell, literal: /^`([^`]*)`/.exec(cell)?.[1] });
  }
  return rows;
}

const documented = documentedVariables();
const documentedNames = documented.map((row) => row.name);

/** CONFIG_KEY -> configKey: the Config field an unset-by-default variable leaves empty. */
function fieldOf(variable: string): keyof Config {
  return variable.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof Config;
}

describe('docs/configuration.md and the variables the server reads', () => {
  it('records every variable config.ts names (the contexts reach every path)', () => {
    const named = new Set([...CONFIG_SOURCE.matchAll(/\(env, '([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1]));
    expect(named.size).toBeGreaterThan(30);
    expect([...named].filter((name) => !readAnywhere.has(name))).toEqual([]);
  });

  it('documents every variable the server reads, once', () => {
    const everyRead = [...readAnywhere, ...DENO_VARIABLES.keys()];
    expect(DENO_VARIABLES.has('DENO_WEBSOCKET')).toBe(true);
    expect(everyRead.filter((name) => !documentedNames.includes(name))).toEqual([]);
    expect(documentedNames.filter((name, i) => documentedNames.indexOf(name) !== i)).toEqual([]);
  });

  it('documents no variable the server does not read', () => {
    expect(documentedNames.filter((name) => !readAnywhere.has(name) && !DENO_VARIABLES.has(name))).toEqual([]);
  });

  it('states each default as the server has it', () => {
    const wrong: string[] = [];
    for (const { name, cell, literal } of documented) {
      if (DENO_VARIABLES.has(name)) {
        if (literal !== DENO_VARIABLES.get(name)) wrong.push(`${name}: doc says ${cell}, main-deno.ts defaults to "${DENO_VARIABLES.get(name)}"`);
        continue;
      }
      // The first context in which the server reads the variable without it being set.
      const context = CONTEXTS.find((env) => !(name in env) && load(env).read.has(name));
      if (!context) continue; // not read at all: the test above names it
      const unset = load(context).result;
      if (literal === undefined) {
        // "—", "empty", "generated …": nothing is set when the variable is not.
        const value = typeof unset === 'string' ? undefined : unset[fieldOf(name)];
        if (typeof unset === 'string' || (value !== undefined && !(Array.isArray(value) && value.length === 0))) {
          wrong.push(`${name}: doc says ${cell}, loadConfig gives ${JSON.stringify(typeof unset === 'string' ? unset : value)}`);
        }
        continue;
      }
      // Setting a variable to its documented default must change nothing ...
      if (JSON.stringify(load({ ...context, [name]: literal }).result) !== JSON.stringify(unset)) {
        wrong.push(`${name}: setting the documented default "${literal}" changes the configuration`);
      }
      // ... while it is read and matters: some other value changes it.
      const others = ['true', 'false', '4321', '120000', 'off', 'debug', 'HS384', 'redis://127.0.0.1:6390', 'https://other.example', 'x'.repeat(40)];
      if (others.every((value) => value === literal || JSON.stringify(load({ ...context, [name]: value }).result) === JSON.stringify(unset))) {
        wrong.push(`${name}: no value changes the configuration, so its default could not be checked`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
