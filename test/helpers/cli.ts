import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './config';

/**
 * The built `broski` as a user runs it: `node dist/cli.js …` in a child process with a minimal
 * environment (nothing inherited but PATH), bounded in time, killed in `killAllCli()`.
 * `npm test` builds first (pretest); alone, `ensureCliBuilt()` builds when dist is missing.
 * BROSKI_TEST_CLI points the helpers at another build (while someone else rebuilds dist).
 */
export const ROOT = path.resolve(__dirname, '..', '..');
export const CLI = process.env.BROSKI_TEST_CLI ?? path.join(ROOT, 'dist', 'cli.js');

export function ensureCliBuilt(): void {
  if (fs.existsSync(CLI)) return;
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore', timeout: 120_000 });
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface SpawnedCli {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<CliResult>;
  /** Resolves when stdout (or stderr) matches; rejects after `ms` or if the process exits first. */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpMatchArray>;
}

const children: SpawnedCli[] = [];
const dirs: string[] = [];

/** A temporary directory with a fresh database path, removed by `killAllCli()`. */
export function cliDir(): string {
  const dir = tempDir('broski-cli-');
  dirs.push(dir);
  return dir;
}

/** The environment of a CLI run: a database in `dir`, nothing inherited but PATH. */
export function cliEnv(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    DATABASE_PATH: path.join(dir, 'broski.db'),
    BACKUP_DIR: path.join(dir, 'backups'),
    RECONCILE_INTERVAL_MS: '0',
    ...extra,
  };
}

export function spawnCli(
  args: string[],
  env: Record<string, string>,
  options: { cwd?: string; limitMs?: number; command?: string[] } = {},
): SpawnedCli {
  const command = options.command ?? [process.execPath, CLI];
  const [file, ...prefix] = command;
  if (file === undefined) throw new Error('no command');
  const proc = spawn(file, [...prefix, ...args], {
    cwd: options.cwd ?? env.HOME ?? ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<CliResult>((resolve) => {
    proc.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });
  // Never let a child outlive its test for long, whatever happens.
  const guard = setTimeout(() => proc.kill('SIGKILL'), options.limitMs ?? 20_000);
  void exited.then(() => clearTimeout(guard));
  const spawned: SpawnedCli = {
    proc,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (pattern, ms = 10_000) =>
      new Promise((resolve, reject) => {
        const deadline = Date.now() + ms;
        const check = () => {
          const match = pattern.exec(out) ?? pattern.exec(err);
          if (match !== null) return resolve(match);
          if (proc.exitCode !== null || proc.signalCode !== null) {
            return reject(new Error(`exited before ${pattern}; stdout: ${out}; stderr: ${err}`));
          }
          if (Date.now() > deadline) {
            return reject(
              new Error(`no ${pattern} within ${ms} ms; stdout: ${out}; stderr: ${err}`),
            );
          }
          setTimeout(check, 50);
        };
        check();
      }),
  };
  children.push(spawned);
  return spawned;
}

/** Runs `broski …` to its end (killed after `limitMs`). */
export async function runCli(
  args: string[],
  env: Record<string, string>,
  limitMs = 20_000,
): Promise<CliResult> {
  return spawnCli(args, env, { limitMs }).exited;
}

/** Kills what is still running and removes the temporary directories. */
export async function killAllCli(): Promise<void> {
  for (const child of children.splice(0)) {
    if (child.proc.exitCode === null && child.proc.signalCode === null) {
      child.proc.kill('SIGKILL');
      await child.exited;
    }
  }
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** Parses the JSON a command printed on stdout (failing with the output when it is not JSON). */
export function jsonOf(result: CliResult): unknown {
  try {
    return JSON.parse(result.stdout);
  } catch {
    throw new Error(
      `stdout is not JSON (exit ${result.code}); stdout: ${result.stdout}; stderr: ${result.stderr}`,
    );
  }
}

export const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/** Replaces a property of an object for a while; answers the function that puts it back. */
function override(target: object, key: string, value: unknown): () => void {
  const own = Object.getOwnPropertyDescriptor(target, key);
  Object.defineProperty(target, key, { value, configurable: true, writable: true });
  return () => {
    if (own === undefined) Reflect.deleteProperty(target, key);
    else Object.defineProperty(target, key, own);
  };
}

class ExitCalled extends Error {
  constructor(readonly code: number) {
    super(`process.exit(${code})`);
  }
}

/**
 * Runs the same commands inside this Jest process (so their code counts for coverage): a fresh
 * CLI application per call, the environment swapped in, stdout/stderr captured (as a pipe, not a
 * terminal) and process.exit turned into the result's code.
 */
export async function runCliInJest(
  args: string[],
  env: Record<string, string>,
): Promise<CliResult> {
  const { CommandFactory, CommandRunnerService } = await import('nest-commander');
  const { CliModule } = await import('../../src/app/cli.module');
  const { CliProgram, exitOnCommandError } = await import('../../src/modules/cli/cli-program');
  const saved = { ...process.env };
  for (const key of Object.keys(process.env)) {
    if (key !== 'PATH' && key !== 'HOME') delete process.env[key];
  }
  Object.assign(process.env, { LOG_LEVEL: 'silent' }, env);
  let stdout = '';
  let stderr = '';
  const restore = [
    override(process.stdout, 'isTTY', false),
    override(process.stdout, 'write', (chunk: unknown) => {
      stdout += String(chunk);
      return true;
    }),
    override(process.stderr, 'write', (chunk: unknown) => {
      stderr += String(chunk);
      return true;
    }),
    override(process, 'exit', (exitCode?: number | string | null): never => {
      throw new ExitCalled(typeof exitCode === 'number' ? exitCode : 0);
    }),
  ];
  let code = 0;
  try {
    const app = await CommandFactory.createWithoutRunning(CliModule, {
      logger: false,
      cliName: 'broski',
      serviceErrorHandler: (error) => {
        if (error instanceof ExitCalled) throw error;
        exitOnCommandError(error, args.includes('--verbose'));
      },
    });
    app.get(CliProgram).configure();
    try {
      await app.get(CommandRunnerService).run(['node', 'broski', ...args]);
    } finally {
      await app.close();
    }
    code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (!(error instanceof ExitCalled)) throw error;
    code = error.code;
  } finally {
    process.exitCode = undefined;
    for (const undo of restore.reverse()) undo();
    for (const key of Object.keys(process.env)) delete process.env[key];
    Object.assign(process.env, saved);
  }
  return { code, signal: null, stdout, stderr };
}

/** A port nothing listens on. */
export { freePort as closedPort } from './ports';
