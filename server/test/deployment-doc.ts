/**
 * docs/deployment.md as a team follows it: the files it tells them to write, read from the doc at
 * test time so that a test runs what the doc says, not a copy of it. Each such fenced block names
 * its file on its first line (`# /etc/nginx/conf.d/chatroom.conf`).
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const DEPLOYMENT_DOC = fileURLToPath(new URL('../../docs/deployment.md', import.meta.url));

/** The text of the one fenced block whose first line is `firstLine`, that line included. */
export function deploymentBlock(firstLine: string): string {
  const blocks = [...readFileSync(DEPLOYMENT_DOC, 'utf8').matchAll(/^```[\w-]*\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  const named = blocks.filter((block) => block.split('\n', 1)[0] === firstLine);
  if (named.length !== 1) throw new Error(`docs/deployment.md has ${named.length} code blocks that start with "${firstLine}", expected 1`);
  return named[0];
}

/**
 * Replaces the doc's placeholders (domain, addresses, secrets) with the test's values. Each one
 * must occur: a placeholder the doc no longer has means the test would run something else than
 * what a team runs.
 */
export function substitute(text: string, replacements: Array<[placeholder: string, value: string]>): string {
  let result = text;
  for (const [placeholder, value] of replacements) {
    if (!result.includes(placeholder)) throw new Error(`placeholder "${placeholder}" not found in:\n${text}`);
    result = result.split(placeholder).join(value);
  }
  return result;
}

/**
 * A systemd EnvironmentFile, read the way systemd reads it, refusing what would not mean what it
 * looks like: systemd takes everything after `=` as the value, so a `# comment` after a value
 * becomes part of it (a secret with a comment in it, a path that does not exist).
 */
export function parseEnvironmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  text.split('\n').forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) return;
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(trimmed);
    if (!assignment) throw new Error(`line ${index + 1} is not NAME=value: ${line}`);
    const [, name, value] = assignment;
    if (/\s[#;]/.test(value)) throw new Error(`line ${index + 1}: systemd keeps the inline comment as part of ${name}'s value: ${line}`);
    if (name in env) throw new Error(`line ${index + 1}: ${name} is set twice`);
    env[name] = value;
  });
  return env;
}
