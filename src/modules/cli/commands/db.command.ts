import { Command, SubCommand } from 'nest-commander';
import { ExitCode } from '../cli-errors';
import { BroskiCommand, CommandGroup } from '../cli-command';
import type { CliSession } from '../cli-session';

@SubCommand({
  name: 'migrate',
  description: 'Apply pending migrations to DATABASE_PATH (the server and CLI also do at start)',
})
export class DbMigrateCommand extends BroskiCommand {
  protected async execute(session: CliSession): Promise<ExitCode> {
    const { migrateDatabase } = await import('../db/database-tasks');
    const report = migrateDatabase(session.config.database);
    const { output } = session;
    if (output.json) {
      output.printJson(report);
      return ExitCode.OK;
    }
    if (report.created) output.line(`Created ${report.database}.`);
    if (report.applied.length === 0) {
      output.line(`${report.database} is up to date (${report.total} migrations applied).`);
    } else {
      output.line(
        `Applied ${report.applied.length} migration${report.applied.length === 1 ? '' : 's'} to ${report.database}:`,
      );
      for (const tag of report.applied) output.line(`  ${output.colors.green('✓')} ${tag}`);
    }
    return ExitCode.OK;
  }
}

@SubCommand({
  name: 'backup',
  arguments: '[path]',
  argsDescription: { path: 'where to write the copy (default: BACKUP_DIR/broski-<timestamp>.db)' },
  description: 'Write a consistent, verified copy of the database (safe while it is in use)',
})
export class DbBackupCommand extends BroskiCommand {
  protected async execute(session: CliSession, [target]: string[]): Promise<ExitCode> {
    const { backupConfiguredDatabase } = await import('../db/database-tasks');
    const result = await backupConfiguredDatabase(session.config, target);
    const { output } = session;
    if (output.json) {
      output.printJson(result);
      return ExitCode.OK;
    }
    output.line(
      `${output.colors.green('✓')} Backed up ${session.config.database.path} to ${result.path} (${formatBytes(result.bytes)}, integrity ok, ${result.durationMs} ms)`,
    );
    if (result.pruned.length > 0) {
      output.line(
        output.colors.dim(
          `Removed ${result.pruned.length} older backup${result.pruned.length === 1 ? '' : 's'} (BACKUP_KEEP=${session.config.backup.keep}).`,
        ),
      );
    }
    return ExitCode.OK;
  }
}

@Command({
  name: 'db',
  description: 'Database maintenance: migrate, backup',
  subCommands: [DbMigrateCommand, DbBackupCommand],
})
export class DbCommand extends CommandGroup {}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
