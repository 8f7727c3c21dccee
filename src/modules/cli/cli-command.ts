import { InvalidArgumentError } from 'commander';
import { CommandRunner } from 'nest-commander';
import { z } from 'zod';
import { UsageError, type ExitCode } from './cli-errors';
import { CliSession } from './cli-session';

/**
 * Base of the commands that use the client: builds the session from the global flags and the
 * configuration, runs the command, closes the client (so an in-process run releases its
 * database and the process exits) and records the exit code.
 */
export abstract class BroskiCommand extends CommandRunner {
  async run(args: string[], options: Record<string, unknown> = {}): Promise<void> {
    const session = CliSession.fromCommand(this.command);
    try {
      process.exitCode = await this.execute(session, args, options);
    } finally {
      await session.close();
    }
  }

  protected abstract execute(
    session: CliSession,
    args: string[],
    options: Record<string, unknown>,
  ): Promise<ExitCode>;
}

/**
 * A command that only groups subcommands (`broski workflows`): alone it shows its help (on
 * stderr, exit 2); an unknown subcommand is a usage error.
 */
export abstract class CommandGroup extends CommandRunner {
  async run(args: string[]): Promise<void> {
    const [first] = args;
    if (first !== undefined) {
      throw new UsageError(
        `unknown command '${this.command.name()} ${first}' (see 'broski ${this.command.name()} --help')`,
      );
    }
    this.command.help({ error: true });
  }
}

/** Parses a command's options (as the option handlers left them) with its schema. */
export function parseOptions<T extends z.ZodType>(
  schema: T,
  raw: Record<string, unknown>,
): z.output<T> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(
      `invalid option ${issue === undefined ? '' : `--${kebab(issue.path.map(String).join('.'))}`}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

/**
 * Converts the input of a command to its contract shape, or a usage error naming each field
 * (`labelOf` turns a field's path into what the user typed: a flag by default).
 */
export function parseInput<T extends z.ZodType>(
  schema: T,
  value: unknown,
  labelOf: (path: string) => string = flagLabel,
): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.flatMap((issue) => {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map(
        (key) => `${labelOf(path === '' ? key : `${path}.${key}`)}: is not accepted here`,
      );
    }
    const missing = issue.code === 'invalid_type' && valueAt(value, issue.path) === undefined;
    return [`${labelOf(path)}: ${missing ? 'is required' : issue.message}`];
  });
  throw new UsageError(problems.join('; '));
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = Reflect.get(current, key);
  }
  return current;
}

function flagLabel(path: string): string {
  return path === '' ? 'input' : `--${kebab(path)}`;
}

export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Option handler: a whole number within bounds (commander reports the failure, exit 2). */
export function intOption(value: string, min: number, max: number): number {
  const parsed = Number(value);
  if (
    !/^-?\d+$/.test(value.trim()) ||
    !Number.isSafeInteger(parsed) ||
    parsed < min ||
    parsed > max
  ) {
    throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}.`);
  }
  return parsed;
}

/** Option handler: a number within bounds. */
export function numberOption(value: string, min: number, max: number): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || parsed < min || parsed > max) {
    throw new InvalidArgumentError(`must be a number from ${min} to ${max}.`);
  }
  return parsed;
}

/** Option handler: a comma-separated list. */
export function listOption(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}
