/**
 * Test helper: Debian's nginx as a child process with its own prefix directory, serving one site
 * file (a `conf.d/*.conf` as the stock nginx.conf includes it) on the test's ports. Under CI=true a
 * missing nginx fails the run; locally the nginx tests are skipped with a message naming the package.
 */

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NGINX_BIN = process.env.NGINX_BIN ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx');

/** Why the nginx tests cannot run here, or undefined when they can. */
export function nginxUnavailable(): string | undefined {
  const probe = spawnSync(NGINX_BIN, ['-v'], { encoding: 'utf8' });
  if (probe.status === 0) return undefined;
  const reason = 'nginx not found (install the Debian package: apt-get install -y nginx)';
  if (process.env.CI === 'true') throw new Error(`${reason}; CI must not skip the nginx tests`);
  return reason;
}

/** A fresh prefix directory; the site's certificate files can be written into it before start. */
export function nginxPrefix(): string {
  const dir = mkdtempSync(join(tmpdir(), 'chat-nginx-'));
  // Worker processes drop root for `nobody`, and must still reach their temp directories in here.
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * The main configuration around the site: what Debian's /etc/nginx/nginx.conf gives a file in
 * conf.d/, with every path nginx writes inside the prefix. One worker keeps the test light.
 */
function writeMainConfig(dir: string, site: string): string {
  mkdirSync(join(dir, 'conf.d'), { recursive: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  writeFileSync(join(dir, 'conf.d', 'chatroom.conf'), site);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${join(dir, 'temp', kind)};`).join('\n');
  mkdirSync(join(dir, 'temp'), { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs', 'error.log')} warn;
events {
  worker_connections 1024;
}
http {
  access_log ${join(dir, 'logs', 'access.log')};
${temp}
  include ${join(dir, 'conf.d', '*.conf')};
}
`,
  );
  return conf;
}

function nginxArgs(dir: string, conf: string): string[] {
  // -e: Debian's build logs to /var/log/nginx/error.log until the configuration is read.
  return ['-p', `${dir}/`, '-c', conf, '-e', join(dir, 'logs', 'error.log')];
}

/** `nginx -t` on the site: its exit status and everything it printed. Removes the prefix. */
export function testNginxConfig(dir: string, site: string): { status: number | null; output: string } {
  const conf = writeMainConfig(dir, site);
  const result = spawnSync(NGINX_BIN, ['-t', ...nginxArgs(dir, conf)], { encoding: 'utf8' });
  rmSync(dir, { recursive: true, force: true });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

export interface RunningNginx {
  dir: string;
  /** nginx's error log so far. */
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * Starts nginx in the foreground. It runs under a shell that holds the read end of a pipe from this
 * process: when the test stops it, or this process ends in any way, the pipe closes and the shell
 * stops nginx, so no nginx outlives its test.
 */
export async function startNginx(dir: string, site: string): Promise<RunningNginx> {
  const conf = writeMainConfig(dir, site);
  const pidFile = join(dir, 'nginx.pid');
  // A background job's stdin is /dev/null in sh, hence the pipe is handed to the watcher as fd 3.
  const watchdog = 'exec 3<&0; "$@" 3<&- & pid=$!; (cat <&3 >/dev/null; kill -TERM "$pid" 2>/dev/null) & exec 3<&-; wait "$pid"';
  const child = spawn('/bin/sh', ['-c', watchdog, 'nginx-watchdog', NGINX_BIN, ...nginxArgs(dir, conf)], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const errorLog = (): string => {
    try {
      return readFileSync(join(dir, 'logs', 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  // The master writes its pid file once its listening sockets are bound.
  const deadline = Date.now() + 10_000;
  while (!existsSync(pidFile)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const why = `nginx did not start:\n${stderr}${errorLog()}`;
      child.stdin!.end();
      await exited;
      rmSync(dir, { recursive: true, force: true });
      throw new Error(why);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return {
    dir,
    errorLog,
    stop: async () => {
      child.stdin!.end();
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
