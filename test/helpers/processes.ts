import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Child processes for multi-process end-to-end tests: the built API (`dist/main.js`) and workers
 * (`dist/worker.js`) started as a user starts them, their pino output captured line by line.
 */

export const ROOT = path.resolve(__dirname, '..', '..');
export const DIST_MAIN = path.join(ROOT, 'dist', 'main.js');
export const DIST_WORKER = path.join(ROOT, 'dist', 'worker.js');

/** Builds once (`npm run build`) when an entry point is missing; `npm test` builds in pretest. */
export function ensureBuilt(timeoutMs = 180_000): void {
  if (fs.existsSync(DIST_MAIN) && fs.existsSync(DIST_WORKER)) return;
  const result = spawnSync('npm', ['run', 'build'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  if (result.status !== 0 || !fs.existsSync(DIST_MAIN) || !fs.existsSync(DIST_WORKER)) {
    throw new Error(
      `npm run build failed (status ${String(result.status)}):\n${result.stdout}\n${result.stderr}`,
    );
  }
}

export { freePort } from './ports';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One pino JSON line (other fields are kept in `raw`). */
export interface LogLine {
  level?: string;
  msg?: string;
  raw: string;
  [field: string]: unknown;
}

export interface ManagedProcess {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number | undefined;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<Exit>;
  /** The exit, once it happened. */
  exit(): Exit | undefined;
  /** Complete stdout lines so far. */
  lines(): string[];
  /** Stdout lines that parse as JSON objects (pino). */
  logs(): LogLine[];
  stderr(): string;
  /** The last `n` lines of stdout and stderr, labelled, for failure messages. */
  tail(n?: number): string;
  /** Waits until a log line matches (bounded); fails early when the process exits. */
  waitForLog(match: (line: LogLine) => boolean, ms: number, what: string): Promise<LogLine>;
  /** SIGTERM, waits up to `ms`, then SIGKILL; returns how it exited. */
  stop(ms?: number): Promise<Exit>;
  /** SIGKILL and wait. */
  kill(): Promise<Exit>;
}

/**
 * The promise's value, or undefined after `ms`. The timer is cleared as soon as the promise
 * settles, so no timer outlives the wait (Jest would otherwise wait for it before exiting).
 */
export async function raceTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One line shortened for a failure message (stack traces make pino lines very long). */
function clip(line: string, max = 600): string {
  return line.length <= max ? line : `${line.slice(0, max)}… (${line.length} chars)`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Kills the child when this process exits without having stopped it (a failed afterAll, a Jest
 * worker torn down): no test process outlives the test run.
 */
export function killOnExit(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of children) c.kill('SIGKILL');
  });
}

/** Parses pino JSON lines; anything else is skipped. */
export function parseLogLines(lines: readonly string[]): LogLine[] {
  const parsed: LogLine[] = [];
  for (const raw of lines) {
    if (!raw.startsWith('{')) continue;
    try {
      const value: unknown = JSON.parse(raw);
      if (isRecord(value)) parsed.push({ ...value, raw });
    } catch {
      // not JSON
    }
  }
  return parsed;
}

export interface SpawnOptions {
  /** Environment of the child: only PATH and HOME are inherited, nothing else. */
  env: Record<string, string>;
  cwd?: string;
  /** Arguments after the script (e.g. a CLI command). */
  args?: string[];
  /** Killed with SIGKILL after this long whatever happens (a safety net; default 5 min). */
  maxLifetimeMs?: number;
}

/** Starts `node <script>` with a minimal environment and captures its output. */
export function spawnNode(name: string, script: string, options: SpawnOptions): ManagedProcess {
  const cwd = options.cwd ?? ROOT;
  const proc = spawn(process.execPath, [script, ...(options.args ?? [])], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? cwd, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  let err = '';
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) if (line.trim() !== '') lines.push(line);
  });
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  let exitInfo: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    proc.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
    proc.on('error', (error) => {
      err += `\n[spawn error] ${error.message}`;
      exitInfo = { code: -1, signal: null };
      resolve(exitInfo);
    });
  });
  // Flush a last line without a newline once the stream ends.
  proc.stdout?.on('end', () => {
    if (partial.trim() !== '') lines.push(partial);
    partial = '';
  });
  const guard = setTimeout(() => proc.kill('SIGKILL'), options.maxLifetimeMs ?? 300_000);
  guard.unref();
  killOnExit(proc);
  void exited.then(() => clearTimeout(guard));

  const waitForExit = (ms: number): Promise<Exit | undefined> => raceTimeout(exited, ms);

  const managed: ManagedProcess = {
    name,
    proc,
    pid: proc.pid,
    exited,
    exit: () => exitInfo,
    lines: () => [...lines],
    logs: () => parseLogLines(lines),
    stderr: () => err,
    tail(n = 15) {
      const out = lines.slice(-n).map((l) => `  [${name} stdout] ${clip(l)}`);
      const errLines = err
        .split('\n')
        .filter((l) => l.trim() !== '')
        .slice(-n)
        .map((l) => `  [${name} stderr] ${clip(l)}`);
      const state = exitInfo === undefined ? 'running' : `exited ${JSON.stringify(exitInfo)}`;
      return [`--- ${name} (pid ${String(proc.pid)}, ${state})`, ...out, ...errLines].join('\n');
    },
    async waitForLog(match, ms, what) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = parseLogLines(lines).find(match);
        if (found !== undefined) return found;
        if (exitInfo !== undefined) {
          throw new Error(`${name} exited before logging ${what}\n${managed.tail()}`);
        }
        if (Date.now() > deadline) {
          throw new Error(`${name} did not log ${what} within ${ms} ms\n${managed.tail()}`);
        }
        await sleep(50);
      }
    },
    async stop(ms = 10_000) {
      if (exitInfo !== undefined) return exitInfo;
      proc.kill('SIGTERM');
      const graceful = await waitForExit(ms);
      if (graceful !== undefined) return graceful;
      proc.kill('SIGKILL');
      return exited;
    },
    async kill() {
      if (exitInfo !== undefined) return exitInfo;
      proc.kill('SIGKILL');
      return exited;
    },
  };
  return managed;
}

/** Polls `GET <baseUrl><path>` until it answers `status` (bounded); fails early if `proc` exits. */
export async function waitForHttpStatus(
  baseUrl: string,
  urlPath: string,
  status: number,
  ms: number,
  proc?: ManagedProcess,
): Promise<void> {
  const deadline = Date.now() + ms;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (proc?.exit() !== undefined) {
      throw new Error(`${proc.name} exited while waiting for ${urlPath}\n${proc.tail()}`);
    }
    try {
      const response = await fetch(`${baseUrl}${urlPath}`, { signal: AbortSignal.timeout(2000) });
      const body = await response.text();
      if (response.status === status) return;
      last = `${response.status} ${body.slice(0, 500)}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(100);
  }
  throw new Error(
    `${urlPath} did not answer ${status} within ${ms} ms (last: ${last})${proc === undefined ? '' : `\n${proc.tail()}`}`,
  );
}

/** Waits for `/health/ready` to answer 200. */
export function waitForReady(baseUrl: string, ms: number, proc?: ManagedProcess): Promise<void> {
  return waitForHttpStatus(baseUrl, '/health/ready', 200, ms, proc);
}

/** Every process a test file started, so afterAll can stop them all whatever happened. */
export class ProcessGroup {
  private readonly all: ManagedProcess[] = [];

  spawn(name: string, script: string, options: SpawnOptions): ManagedProcess {
    const managed = spawnNode(name, script, options);
    this.all.push(managed);
    return managed;
  }

  list(): readonly ManagedProcess[] {
    return this.all;
  }

  /** Stops every process still running (SIGTERM, bounded wait, SIGKILL), in parallel. */
  async stopAll(ms = 10_000): Promise<void> {
    await Promise.all(this.all.map((p) => p.stop(ms)));
  }

  /** Writes every process's stdout and stderr to `<dir>/<name>.log` (to read after a run). */
  writeLogs(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    for (const p of this.all) {
      fs.writeFileSync(
        path.join(dir, `${p.name}.log`),
        `${p.lines().join('\n')}\n--- stderr\n${p.stderr()}`,
      );
    }
  }

  /** The last lines of every process, for failure messages. */
  tails(n = 15): string {
    return this.all.map((p) => p.tail(n)).join('\n');
  }
}

/**
 * Lines that suggest a crash or an unhandled error: pino lines at level error or fatal (unless
 * `allowed` accepts them), and stderr lines mentioning an unhandled rejection, an uncaught
 * exception or a JavaScript error.
 */
export function errorLines(
  proc: ManagedProcess,
  allowed: (line: LogLine) => boolean = () => false,
): string[] {
  const fromLogs = proc
    .logs()
    .filter((l) => (l.level === 'error' || l.level === 'fatal') && !allowed(l))
    .map((l) => `[${proc.name}] ${l.raw}`);
  const fromStderr = proc
    .stderr()
    .split('\n')
    // Node's own warnings too: "(node:123) MaxListenersExceededWarning: …",
    // "(node:123) [DEP0040] DeprecationWarning: …".
    .filter(
      (l) =>
        /unhandled|uncaught|TypeError|ReferenceError|RangeError|FATAL/i.test(l) ||
        /\(node:\d+\) (\[\w+\] )?\w*Warning/.test(l),
    )
    .map((l) => `[${proc.name} stderr] ${l}`);
  return [...fromLogs, ...fromStderr];
}
