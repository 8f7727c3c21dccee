#!/usr/bin/env node
import 'reflect-metadata';
import { CommandFactory } from 'nest-commander';
import { exitOnStartupError } from './app/startup-error';
import { CliModule } from './app/cli.module';
import { packageVersion } from './common/paths';
import { CliProgram, exitOnCommandError, exitOnCommanderError } from './modules/cli/cli-program';

/**
 * The `broski` command. Exit codes: 0 done, 1 the workflow failed or was cancelled, 2 usage,
 * validation or configuration error, 3 the server cannot be reached, 130 detached with Ctrl-C.
 */
async function main(): Promise<void> {
  // `broski … | head`: a closed pipe ends the output quietly, as with any Unix tool.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  const cli: { program?: CliProgram } = {};
  const app = await CommandFactory.createWithoutRunning(CliModule, {
    logger: false,
    cliName: 'broski',
    version: packageVersion(),
    errorHandler: exitOnCommanderError,
    serviceErrorHandler: (error) =>
      exitOnCommandError(error, cli.program?.verbose ?? process.argv.includes('--verbose')),
  });
  const program = app.get(CliProgram);
  cli.program = program;
  program.configure();
  await CommandFactory.runApplication(app);
  await app.close();
  // Commands close what they opened; exiting here also ends idle keep-alive sockets at once.
  // (`serve` and `worker` never get here: they run until a signal.)
  process.exit(process.exitCode ?? 0);
}

main().catch((error: unknown) => exitOnStartupError(error, 'broski'));
