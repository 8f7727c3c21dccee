import { Command, Option, SubCommand } from 'nest-commander';
import { z } from 'zod';
import { ExitCode } from '../cli-errors';
import { BroskiCommand, CommandGroup, parseInput } from '../cli-command';
import type { CliSession } from '../cli-session';
import { formatTimestamp } from '../output/format';

const WHAT = 'API keys';

const nameOptionSchema = z.object({
  name: z.string({ error: 'give the key a name: broski keys create <name> (or --name <name>)' }),
});

@SubCommand({
  name: 'create',
  arguments: '[name]',
  argsDescription: { name: 'what the key is for, e.g. "ci" or "alice laptop" (or --name)' },
  description: 'Make an API key (printed once; only its hash is stored)',
})
export class KeysCreateCommand extends BroskiCommand {
  protected async execute(
    session: CliSession,
    [positional]: string[],
    options: Record<string, unknown>,
  ): Promise<ExitCode> {
    const name = positional ?? parseInput(nameOptionSchema, options).name;
    const client = await session.connectLocal(WHAT);
    const { key, info } = await client.createApiKey(name);
    const { output } = session;
    if (output.json) {
      output.printJson({ key, ...info });
      return ExitCode.OK;
    }
    output.line(key);
    output.note(
      `Created API key "${info.name}" (id ${info.id}). It is shown only this once: keep it now.`,
    );
    output.note('Once any key exists, every /api/v1 request needs "Authorization: Bearer <key>".');
    output.note('The CLI sends it with --api-key or BROSKI_API_KEY.');
    return ExitCode.OK;
  }

  @Option({ flags: '--name <name>', description: 'what the key is for (instead of the argument)' })
  parseName(value: string): string {
    return value;
  }
}

@SubCommand({
  name: 'list',
  aliases: ['ls'],
  description: 'List API keys (never the keys themselves)',
})
export class KeysListCommand extends BroskiCommand {
  protected async execute(session: CliSession): Promise<ExitCode> {
    const client = await session.connectLocal(WHAT);
    const keys = await client.listApiKeys();
    const { output } = session;
    if (output.json) {
      output.printJson({ items: keys, nextCursor: null });
      return ExitCode.OK;
    }
    if (keys.length === 0) {
      output.note('No API keys: /api/v1 is open on loopback addresses only.');
      return ExitCode.OK;
    }
    output.line(
      output.table(
        ['ID', 'NAME', 'PREFIX', 'CREATED', 'LAST USED', 'STATUS'],
        keys.map((k) => [
          k.id,
          k.name,
          `${k.prefix}…`,
          formatTimestamp(k.createdAt),
          formatTimestamp(k.lastUsedAt),
          k.revokedAt === null
            ? output.colors.green('active')
            : output.colors.yellow(`revoked ${formatTimestamp(k.revokedAt)}`),
        ]),
      ),
    );
    return ExitCode.OK;
  }
}

@SubCommand({ name: 'revoke', arguments: '<id>', description: 'Revoke an API key at once' })
export class KeysRevokeCommand extends BroskiCommand {
  protected async execute(session: CliSession, [id]: string[]): Promise<ExitCode> {
    const keyId = parseInput(
      z.uuid({ error: 'must be a key id (see broski keys list)' }),
      id,
      () => 'key id',
    );
    const client = await session.connectLocal(WHAT);
    const info = await client.revokeApiKey(keyId);
    if (session.output.json) session.output.printJson(info);
    else session.output.line(`Revoked API key "${info.name}" (${info.id}).`);
    return ExitCode.OK;
  }
}

@Command({
  name: 'keys',
  description: 'API keys of the server whose database this is: create, list, revoke',
  subCommands: [KeysCreateCommand, KeysListCommand, KeysRevokeCommand],
})
export class KeysCommand extends CommandGroup {}
