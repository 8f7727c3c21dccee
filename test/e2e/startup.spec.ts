import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../helpers/config';
import {
  freePort,
  ProcessGroup,
  raceTimeout,
  waitForHttpStatus,
  type Exit,
  type ManagedProcess,
} from '../helpers/processes';

/**
 * The built entry points as a user runs them: `node dist/main.js` and `node dist/cli.js`.
 * `npm test` builds first (pretest); run `npm run build` before running this file alone.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'dist', 'main.js');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const PACKAGE_VERSION = (
  JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

interface Spawned {
  managed: ManagedProcess;
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
}

const group = new ProcessGroup();
const dirs: string[] = [];

function workDir(): string {
  const dir = tempDir('broski-startup-');
  dirs.push(dir);
  return dir;
}

/** Starts node with a minimal environment (no inherited configuration), in `cwd`. */
function start(
  [script = MAIN, ...args]: string[],
  cwd: string,
  env: Record<string, string>,
): Spawned {
  const managed = group.spawn(path.basename(script), script, {
    cwd,
    args,
    env: { HOME: cwd, ...env },
    maxLifetimeMs: 15_000,
  });
  return {
    managed,
    proc: managed.proc,
    stdout: () =>
      managed
        .lines()
        .map((line) => `${line}\n`)
        .join(''),
    stderr: () => managed.stderr(),
    exited: managed.exited,
  };
}

/** Waits for the exit, failing after `ms` (the child is then stopped by afterAll). */
async function exitOf(child: Spawned, ms: number): Promise<Exit> {
  const exit = await raceTimeout(child.exited, ms);
  if (exit === undefined) {
    throw new Error(
      `no exit within ${ms} ms; stdout: ${child.stdout()}; stderr: ${child.stderr()}`,
    );
  }
  return exit;
}

/** Polls /health/live until it answers 200; fails early if the child exits. */
function waitUntilLive(child: Spawned, port: number, ms = 10_000): Promise<void> {
  return waitForHttpStatus(`http://127.0.0.1:${port}`, '/health/live', 200, ms, child.managed);
}

interface LogLine {
  level: string;
  msg?: string;
  reqId?: string;
  req?: { url?: string };
  [key: string]: unknown;
}

/** Every stdout line must be one JSON object. */
function logLines(stdout: string): LogLine[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        throw new Error(`stdout line is not JSON: ${line}`);
      }
      expect(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)).toBe(true);
      return parsed as LogLine;
    });
}

afterAll(async () => {
  await group.stopAll(2000);
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

beforeAll(() => {
  if (!fs.existsSync(MAIN) || !fs.existsSync(CLI)) {
    throw new Error('dist/ is missing: run `npm run build` first (npm test does it in pretest)');
  }
});

describe('start-up of the built entry points', () => {
  describe('invalid configuration', () => {
    it.each([
      ['node dist/main.js', [MAIN]],
      ['broski serve', [CLI, 'serve']],
    ])('%s with PORT=abc exits non-zero naming PORT', async (_label, args) => {
      const dir = workDir();
      const child = start(args, dir, { PORT: 'abc', DATABASE_PATH: path.join(dir, 'b.db') });
      const exit = await exitOf(child, 10_000);
      expect(exit.code).not.toBe(0);
      expect(exit.code).not.toBeNull();
      expect(child.stderr()).toMatch(/\bPORT\b/);
      // One clear message, not a stack trace.
      expect(child.stderr()).not.toMatch(/\n\s+at /);
      // It never got as far as opening the database.
      expect(fs.existsSync(path.join(dir, 'b.db'))).toBe(false);
    });

    it('names every bad variable in one message', async () => {
      const dir = workDir();
      const child = start([MAIN], dir, { PORT: '99999', LOG_LEVEL: 'loud', REDIS_URL: 'nope' });
      const exit = await exitOf(child, 10_000);
      expect(exit.code).not.toBe(0);
      const stderr = child.stderr();
      for (const name of ['PORT', 'LOG_LEVEL', 'REDIS_URL']) expect(stderr).toContain(name);
      expect(stderr.trim().split('\n')).toHaveLength(1);
    });

    it('reads a .env file in the working directory', async () => {
      const dir = workDir();
      fs.writeFileSync(path.join(dir, '.env'), 'PORT=not-a-port\n');
      const exit = await exitOf(start([MAIN], dir, {}), 10_000);
      expect(exit.code).not.toBe(0);
    });
  });

  describe('broski serve', () => {
    it('serves, logs only JSON lines with no errors, and stops cleanly on SIGTERM', async () => {
      const dir = workDir();
      const port = await freePort();
      const databasePath = path.join(dir, 'db', 'broski.db');
      const child = start([CLI, 'serve'], dir, {
        HOST: '127.0.0.1',
        PORT: String(port),
        DATABASE_PATH: databasePath,
        BACKUP_DIR: path.join(dir, 'backups'),
        LOG_LEVEL: 'info',
      });
      await waitUntilLive(child, port);

      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/health/ready`)).status).toBe(200);
      const list = await fetch(`${base}/api/v1/agents`, {
        headers: { 'x-request-id': 'startup-e2e-1' },
      });
      expect(list.status).toBe(200);
      expect(list.headers.get('x-request-id')).toBe('startup-e2e-1');
      expect(((await list.json()) as { items: unknown[] }).items).toHaveLength(7);
      // Ordinary client mistakes are part of normal operation: never logged as errors.
      expect((await fetch(`${base}/api/v1/agents/ghost`)).status).toBe(404);
      const bad = await fetch(`${base}/api/v1/agents`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{not json',
      });
      expect(bad.status).toBe(400);
      expect(fs.existsSync(databasePath)).toBe(true);

      child.proc.kill('SIGTERM');
      const exit = await exitOf(child, 8_000);

      const lines = logLines(child.stdout());
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        expect(typeof line.level).toBe('string');
        expect(['error', 'fatal']).not.toContain(line.level);
      }
      // The request id is on the log line of its request.
      expect(lines.some((l) => l.reqId === 'startup-e2e-1')).toBe(true);
      // Health probes do not flood the log.
      expect(lines.some((l) => (l.req?.url ?? '').startsWith('/health'))).toBe(false);
      expect(child.stderr()).toBe('');
      // It stops by itself, promptly (see the exit-code test below).
      expect(exit.code).toBe(0);
    });

    // serve handles SIGTERM itself: readiness turns 503, the app closes, the process exits 0.
    it('exits with code 0 after SIGTERM', async () => {
      const dir = workDir();
      const port = await freePort();
      const child = start([CLI, 'serve'], dir, {
        PORT: String(port),
        DATABASE_PATH: path.join(dir, 'broski.db'),
        LOG_LEVEL: 'warn',
      });
      await waitUntilLive(child, port);
      child.proc.kill('SIGTERM');
      expect(await exitOf(child, 8_000)).toEqual({ code: 0, signal: null });
    });

    it('with no configuration but PORT, keeps its data under ./data', async () => {
      const dir = workDir();
      const port = await freePort();
      const child = start([MAIN], dir, { PORT: String(port), LOG_LEVEL: 'warn' });
      await waitUntilLive(child, port);
      expect(fs.existsSync(path.join(dir, 'data', 'broski.db'))).toBe(true);
      child.proc.kill('SIGTERM');
      const exit = await exitOf(child, 8_000);
      expect(exit.code).toBe(0);
      expect(child.stdout().trim()).toBe('');
    });
  });

  // With the inline driver (the default) the API never loads the BullMQ driver's packages: they
  // hold about 12 MB of heap. A probe script runs dist/main.js and, on SIGUSR2, prints how many
  // of their files are loaded.
  describe('queue driver packages', () => {
    const QUEUE_PACKAGES = /node_modules[\\/](bullmq|ioredis|@nestjs[\\/]bullmq|@bull-board)[\\/]/;

    async function loadedQueueFiles(env: Record<string, string>): Promise<number> {
      const dir = workDir();
      const probe = path.join(dir, 'probe.js');
      fs.writeFileSync(
        probe,
        `process.on('SIGUSR2', () => {
           const files = Object.keys(require.cache).filter((f) => ${QUEUE_PACKAGES.toString()}.test(f));
           process.stdout.write(JSON.stringify({ queueFiles: files.length }) + '\\n');
         });
         require(${JSON.stringify(MAIN)});`,
      );
      const port = await freePort();
      const child = start([probe], dir, {
        PORT: String(port),
        DATABASE_PATH: path.join(dir, 'broski.db'),
        LOG_LEVEL: 'warn',
        ...env,
      });
      await waitUntilLive(child, port);
      child.proc.kill('SIGUSR2');
      const line = await child.managed.waitForLog(
        (l) => typeof l.queueFiles === 'number',
        5_000,
        'the probe line',
      );
      child.proc.kill('SIGTERM');
      expect((await exitOf(child, 8_000)).code).toBe(0);
      return Number(line.queueFiles);
    }

    it('are not loaded by an API on the inline driver', async () => {
      expect(await loadedQueueFiles({})).toBe(0);
    });

    it('are loaded by an API on the BullMQ driver', async () => {
      const loaded = await loadedQueueFiles({
        REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        QUEUE_PREFIX: `broski-startup-${process.pid}`,
        RUN_WORKERS: 'false',
      });
      expect(loaded).toBeGreaterThan(0);
    });
  });

  describe('broski CLI', () => {
    it('--help lists serve and exits 0', async () => {
      const child = start([CLI, '--help'], workDir(), {});
      const exit = await exitOf(child, 10_000);
      expect(exit.code).toBe(0);
      // The program name comes from the script: "broski" through the npm bin, "cli" here.
      expect(child.stdout()).toMatch(/^Usage: (broski|cli) /);
      expect(child.stdout()).toMatch(/^\s+serve\b/m);
    });

    it('--version prints the package version and exits 0', async () => {
      const child = start([CLI, '--version'], workDir(), {});
      const exit = await exitOf(child, 10_000);
      expect(exit.code).toBe(0);
      expect(child.stdout().trim()).toBe(PACKAGE_VERSION);
    });

    it('an unknown command is a usage error (exit 2)', async () => {
      const child = start([CLI, 'frobnicate'], workDir(), {});
      const exit = await exitOf(child, 10_000);
      expect(exit.code).toBe(2);
      expect(child.stderr()).toMatch(/frobnicate|unknown command/i);
    });
  });
});
