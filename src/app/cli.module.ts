import { Module } from '@nestjs/common';
import { ServeCommand } from '../modules/cli/commands/serve.command';

/**
 * Root of the CLI. It stays light so `broski --help` is fast: commands that need the core
 * (database, services) build it when they run.
 */
@Module({ providers: [ServeCommand] })
export class CliModule {}
