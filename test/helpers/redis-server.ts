import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir } from './config';
import { freePort, killOnExit, raceTimeout } from './processes';

/**
 * A private redis-server per test file (never the shared one on 6379): FLUSHALL, stopping and
 * restarting it affect only the processes under test.
 */

/**
 * The path of the machine's redis-server binary (REDIS_SERVER_BIN when set, else the first on
 * PATH), or undefined when it is not installed.
 */
export function findRedisServer(): string | undefined {
  const explicit = process.env.REDIS_SERVER_BIN;
  if (explicit !== undefined && explicit !== '') {
    try {
      fs.accessSync(explicit, fs.constants.X_OK);
      return explicit;
    } catch {
      return undefined;
    }
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, 'redis-server');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * `describe` when redis-server is installed, and in CI (where a missing binary then fails the
 * tests instead of skipping them); elsewhere `describe.skip`, with a warning naming `what`.
 */
export function describeWithRedisServer(what: string): jest.Describe {
  const inCi = ['1', 'true', 'yes'].includes((process.env.CI ?? '').toLowerCase());
  if (findRedisServer() !== undefined || inCi) return describe;
  console.warn(
    `SKIPPED ${what}: redis-server is not installed (install redis-server to run it; in CI it fails instead)`,
  );
  return describe.skip;
}

/** The redis-server version line (for diagnostics), or undefined. */
export function redisServerVersion(binary: string): string | undefined {
  const result = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 5000 });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/** Encodes one command in RESP. */
function encode(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/**
 * Sends one command on a fresh connection and returns the first reply line (`+PONG`, `:3`,
 * `-ERR ...`). Fails after `timeoutMs`; never leaves a socket open.
 */
export function redisCommand(
  port: number,
  args: readonly string[],
  timeoutMs = 2000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let buffer = '';
    const finish = (error: Error | undefined, reply?: string) => {
      clearTimeout(timer);
      socket.destroy();
      if (error !== undefined) reject(error);
      else resolve(reply ?? '');
    };
    const timer = setTimeout(
      () => finish(new Error(`redis on ${port}: no answer to ${args[0]} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(encode(args)));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const end = buffer.indexOf('\r\n');
      if (end >= 0) finish(undefined, buffer.slice(0, end));
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error(`redis on ${port}: connection closed`)));
  });
}

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  /** Whether the server process is running. */
  readonly running: boolean;
  /** The server's own output (last lines), for diagnostics. */
  output(): string;
  /** Runs one command (e.g. ['FLUSHALL']) and returns the reply line. */
  command(...args: string[]): Promise<string>;
  /** Stops the server (SIGTERM, SIGKILL after `ms`); a no-op when it is not running. */
  stop(ms?: number): Promise<void>;
  /** Starts a fresh, empty server on the same port (after stop). */
  start(): Promise<void>;
  /** Stops the server and removes its scratch directory (for afterAll). */
  dispose(): Promise<void>;
}

/** Waits until the server answers PING with PONG (bounded). */
export async function waitForPong(port: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const reply = await redisCommand(port, ['PING'], 500);
      if (reply === '+PONG') return;
      last = reply;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(50);
  }
  throw new Error(`redis on ${port} did not answer PING within ${ms} ms (last: ${last})`);
}

/**
 * Starts redis-server on a free loopback port, without persistence (`--save ""`,
 * `--appendonly no`), in the foreground as a child of the test. Resolves once it answers PING.
 */
export async function startPrivateRedis(binary: string, port?: number): Promise<PrivateRedis> {
  const chosen = port ?? (await freePort());
  const dir = tempDir('broski-redis-');
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';

  const launch = async () => {
    const proc = spawn(
      binary,
      [
        '--port',
        String(chosen),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--dir',
        dir,
        '--maxmemory-policy',
        'noeviction',
        '--loglevel',
        'warning',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const collect = (chunk: string) => {
      output = (output + chunk).slice(-20_000);
    };
    proc.stdout?.setEncoding('utf8').on('data', collect);
    proc.stderr?.setEncoding('utf8').on('data', collect);
    child = proc;
    killOnExit(proc);
    exited = new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
    });
    const early = exited.then(() => {
      throw new Error(`redis-server on ${chosen} exited at start-up: ${output}`);
    });
    await Promise.race([waitForPong(chosen), early]);
    void early.catch(() => undefined);
  };

  const isRunning = () =>
    child !== undefined && child.exitCode === null && child.signalCode === null;

  const stop = async (ms = 5000) => {
    if (!isRunning() || child === undefined) return;
    const proc = child;
    proc.kill('SIGTERM');
    const inTime = await raceTimeout(exited, ms);
    if (inTime === undefined) {
      proc.kill('SIGKILL');
      await exited;
    }
  };

  await launch();
  return {
    port: chosen,
    url: `redis://127.0.0.1:${chosen}`,
    get running() {
      return isRunning();
    },
    output: () => output,
    command: (...args: string[]) => redisCommand(chosen, args),
    stop,
    async start() {
      if (isRunning()) throw new Error(`redis on ${chosen} is already running`);
      await launch();
    },
    async dispose() {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
