import { Injectable } from '@nestjs/common';
import { CommanderError, type Command } from 'commander';
import { InjectCommander } from 'nest-commander';
import { ExitCode, toCliFailure } from './cli-errors';

const HELP_AFTER = `
Commands in full:
  broski run "<request>" [--detach] [--approve] [--require-approval] [--agents a,b]
  broski workflows list [--status s] [--limit n] [--cursor c]
  broski workflows show <id> [--follow]
  broski workflows events <id> [--follow] [--after n]
  broski workflows approve|retry <id> [--detach]      (then follows it, like run)
  broski workflows cancel|reject <id>
  broski agents list [--status s] [--limit n] [--cursor c]
  broski agents show <type> | disable <type>
  broski agents create --type t --name n --system-prompt p [--description d] [--model m]
                       [--temperature t] [--max-output-tokens n]
  broski agents update <type> [same flags as create] [--enable]
  broski serve · broski worker · broski db migrate · broski db backup [path]
  broski keys create <name> [--json] | list | revoke <id>

Modes: with --api-url (or BROSKI_API_URL) the CLI calls that Broski server; otherwise it runs
in-process on the local database (DATABASE_PATH) and executes workflows itself. In-process logs
go to LOG_FILE when set, otherwise only warnings reach stderr.

Exit codes: 0 done · 1 the workflow failed or was cancelled · 2 usage, validation or
configuration error · 3 the server cannot be reached · 130 detached with Ctrl-C (the workflow
goes on; follow it again with 'broski workflows show <id> --follow').`;

/** The commander program nest-commander built, to finish its set-up before it parses. */
@Injectable()
export class CliProgram {
  constructor(@InjectCommander() readonly program: Command) {}

  /** Global flags, help, and exit code 2 (with one `broski: …` line) for every usage error. */
  configure(): Command {
    const program = this.program;
    program
      .name('broski')
      .description('Broski: multi-agent LLM workflows, in-process or against a Broski server')
      .option('--api-url <url>', 'call the Broski server at this URL (default: BROSKI_API_URL)')
      .option('--api-key <key>', 'API key for the server (default: BROSKI_API_KEY)')
      .option('--json', 'machine-readable output: only JSON on stdout')
      .option('--verbose', 'show error details, and logs at LOG_LEVEL in-process')
      .addHelpText('after', HELP_AFTER);
    configureTree(program);
    return program;
  }

  get verbose(): boolean {
    return this.program.opts<{ verbose?: boolean }>().verbose === true;
  }
}

function configureTree(command: Command): void {
  command.configureHelp({ showGlobalOptions: true });
  command.exitOverride(exitOnCommanderError);
  command.configureOutput({
    outputError: (text, write) => write(usageLine(command, text)),
  });
  if (command.commands.length === 0) command.allowExcessArguments(false);
  for (const sub of command.commands) configureTree(sub);
}

/** commander's `error: unknown option '--x'` (maybe over two lines) as one `broski:` line. */
export function usageLine(command: Command, text: string): string {
  const reason = text
    .replace(/^error: /, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ');
  return `broski: ${reason} (see '${commandPath(command)} --help')\n`;
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** --help and --version exit 0; every other commander error is a usage error (exit 2). */
export function exitOnCommanderError(error: Error): never {
  const ok =
    error instanceof CommanderError &&
    (error.exitCode === 0 ||
      error.code === 'commander.helpDisplayed' ||
      error.code === 'commander.version');
  process.exit(ok ? ExitCode.OK : ExitCode.USAGE);
}

/** Prints why a command failed (one line; details with --verbose) and exits with its code. */
export function exitOnCommandError(error: unknown, verbose: boolean): never {
  if (error instanceof CommanderError) exitOnCommanderError(error);
  const failure = toCliFailure(error);
  process.stderr.write(`broski: ${failure.message}\n`);
  if (verbose) for (const line of failure.details) process.stderr.write(`${line}\n`);
  process.exit(failure.exitCode);
}
