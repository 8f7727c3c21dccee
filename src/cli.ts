#!/usr/bin/env node
import 'reflect-metadata';
import { CommandFactory } from 'nest-commander';
import { exitOnStartupError } from './app/startup-error';
import { CliModule } from './app/cli.module';
import { packageVersion } from './common/paths';

/** The `broski` command. */
async function main(): Promise<void> {
  await CommandFactory.run(CliModule, {
    logger: false,
    cliName: 'broski',
    version: packageVersion(),
    errorHandler: (error) => {
      // commander's own exits (--help, --version, usage errors) arrive here with their exit code.
      const exitCode =
        'exitCode' in error && typeof error.exitCode === 'number' ? error.exitCode : 2;
      process.exit(exitCode === 1 ? 2 : exitCode);
    },
    serviceErrorHandler: (error) => exitOnStartupError(error, 'broski'),
  });
}

main().catch((error: unknown) => exitOnStartupError(error, 'broski'));
