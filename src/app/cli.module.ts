import { Module } from '@nestjs/common';
import { CliProgram } from '../modules/cli/cli-program';
import {
  AgentsCommand,
  AgentsCreateCommand,
  AgentsDisableCommand,
  AgentsListCommand,
  AgentsShowCommand,
  AgentsUpdateCommand,
} from '../modules/cli/commands/agents.command';
import { DbBackupCommand, DbCommand, DbMigrateCommand } from '../modules/cli/commands/db.command';
import {
  KeysCommand,
  KeysCreateCommand,
  KeysListCommand,
  KeysRevokeCommand,
} from '../modules/cli/commands/keys.command';
import { RunCommand } from '../modules/cli/commands/run.command';
import { ServeCommand } from '../modules/cli/commands/serve.command';
import { WorkerCommand } from '../modules/cli/commands/worker.command';
import {
  WorkflowsApproveCommand,
  WorkflowsCancelCommand,
  WorkflowsCommand,
  WorkflowsEventsCommand,
  WorkflowsListCommand,
  WorkflowsRejectCommand,
  WorkflowsRetryCommand,
  WorkflowsShowCommand,
} from '../modules/cli/commands/workflows.command';

/**
 * Root of the CLI. It stays light so `broski --help` is fast: commands that need the core
 * (database, services) build it when they run (see CliSession.connect).
 */
@Module({
  providers: [
    CliProgram,
    RunCommand,
    WorkflowsCommand,
    WorkflowsListCommand,
    WorkflowsShowCommand,
    WorkflowsEventsCommand,
    WorkflowsCancelCommand,
    WorkflowsApproveCommand,
    WorkflowsRejectCommand,
    WorkflowsRetryCommand,
    AgentsCommand,
    AgentsListCommand,
    AgentsShowCommand,
    AgentsCreateCommand,
    AgentsUpdateCommand,
    AgentsDisableCommand,
    ServeCommand,
    WorkerCommand,
    DbCommand,
    DbMigrateCommand,
    DbBackupCommand,
    KeysCommand,
    KeysCreateCommand,
    KeysListCommand,
    KeysRevokeCommand,
  ],
})
export class CliModule {}
