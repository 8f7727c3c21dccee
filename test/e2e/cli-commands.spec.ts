import * as fs from 'node:fs';
import * as path from 'node:path';
import { agentSchema } from '../../src/modules/agents/agents.contract';
import { z } from 'zod';
import { eventSchema, workflowDetailSchema } from '../../src/modules/workflows/workflows.contract';
import { listen, startTestApp, type TestApp } from '../helpers/app';
import { cliDir, cliEnv, closedPort, jsonOf, killAllCli, runCliInJest, UUID } from '../helpers/cli';
import { testConfig } from '../helpers/config';

/**
 * Every command, written once against the client interface, in both modes — run inside this
 * process (the built binary is exercised by cli-inprocess, cli-http and cli-terminal).
 */
let server: TestApp;
let baseUrl: string;

beforeAll(async () => {
  server = await startTestApp(testConfig());
  baseUrl = await listen(server.app);
});

afterAll(async () => {
  await server.close();
  await killAllCli();
});

const modes: Array<[string, () => Record<string, string>]> = [
  ['in-process', () => cliEnv(cliDir())],
  ['HTTP', () => cliEnv(cliDir(), { BROSKI_API_URL: baseUrl })],
];

describe.each(modes)('commands (%s)', (_mode, makeEnv) => {
  let env: Record<string, string>;
  beforeAll(() => {
    env = makeEnv();
  });

  it('run, follow, list, show, events, approve, reject, cancel, retry', async () => {
    const run = await runCliInJest(['run', 'Plan a product launch for our bakery'], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('workflow.completed');
    expect(run.stdout).toMatch(/Safety review: ✓ approved/);
    const id = UUID.exec(run.stdout)?.[0] ?? '';

    const json = await runCliInJest(['run', 'Write a haiku', '--json', '--agents', 'writer'], env);
    expect(workflowDetailSchema.parse(jsonOf(json)).status).toBe('completed');

    const waiting = await runCliInJest(['run', 'Design a menu', '--require-approval'], env);
    expect(waiting.code).toBe(0);
    expect(waiting.stdout).toContain('waits for approval');
    const waitingId = UUID.exec(waiting.stdout)?.[0] ?? '';
    const approved = await runCliInJest(['workflows', 'approve', waitingId], env);
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain('✓ Completed');
    // --detach: the approval is answered at once, without following the workflow. In-process,
    // nothing runs it until something follows it (or a server or worker processes the database).
    const waiting2 = await runCliInJest(['run', 'Design a sign', '--require-approval'], env);
    expect(waiting2.code).toBe(0);
    expect(waiting2.stdout).toContain('waits for approval');
    const waiting2Id = UUID.exec(waiting2.stdout)?.[0] ?? '';
    const approvedDetached = await runCliInJest(
      ['workflows', 'approve', waiting2Id, '--detach'],
      env,
    );
    expect(approvedDetached.code).toBe(0);
    expect(approvedDetached.stdout).toBe(`Approved workflow ${waiting2Id}: it is running.\n`);
    if (env.BROSKI_API_URL === undefined) {
      expect(approvedDetached.stderr).toBe(
        `Nothing runs it yet: it runs when you follow it (broski workflows show ${waiting2Id} --follow) or under broski serve / broski worker.\n`,
      );
    } else {
      expect(approvedDetached.stderr).toBe('');
    }
    const finished = await runCliInJest(['workflows', 'show', waiting2Id, '--follow'], env);
    expect(finished.code).toBe(0);
    expect(finished.stdout).toContain('✓ Completed');
    // Only the actions that start work have --detach.
    const rejectDetached = await runCliInJest(['workflows', 'reject', waiting2Id, '--detach'], env);
    expect(rejectDetached.code).toBe(2);
    expect(rejectDetached.stderr).toContain("unknown option '--detach'");

    const auto = await runCliInJest(
      ['run', 'Design a logo', '--require-approval', '--approve'],
      env,
    );
    expect(auto.stdout).toContain('✓ Completed');

    const detached = await runCliInJest(['run', 'Later', '--require-approval', '--detach'], env);
    const later = detached.stdout.trim();
    const shown = await runCliInJest(['workflows', 'show', later, '--follow'], env);
    expect(shown.stdout).toContain('waits for approval');
    const rejected = await runCliInJest(['workflows', 'reject', later], env);
    expect(rejected.stdout).toContain('it is cancelled');
    const detachedJson = await runCliInJest(
      ['run', 'Later 2', '--require-approval', '--detach', '--json'],
      env,
    );
    const cancelled = await runCliInJest(
      ['workflows', 'cancel', workflowDetailSchema.parse(jsonOf(detachedJson)).id, '--json'],
      env,
    );
    expect(workflowDetailSchema.parse(jsonOf(cancelled)).status).toBe('cancelled');
    const retryCompleted = await runCliInJest(['workflows', 'retry', id], env);
    expect(retryCompleted.code).toBe(2);
    expect(retryCompleted.stderr).toMatch(/^broski: Cannot retry a workflow that is completed/);

    const list = await runCliInJest(['workflows', 'list', '--limit', '2'], env);
    expect(list.stdout).toMatch(/^ID +STATUS/);
    expect(list.stderr).toMatch(/^More: broski workflows list --cursor /);
    const none = await runCliInJest(['workflows', 'list', '--status', 'failed'], env);
    expect(none.stderr).toBe('No failed workflows.\n');
    const show = await runCliInJest(['workflows', 'show', id], env);
    expect(show.stdout).toContain('Summary');
    const events = await runCliInJest(['workflows', 'events', id, '--after', '2'], env);
    expect(events.stdout).toContain('workflow.planned');
    expect(events.stdout).not.toContain('workflow.created');
    const follow = await runCliInJest(['workflows', 'events', id, '--follow', '--json'], env);
    const streamed = follow.stdout
      .trim()
      .split('\n')
      .map((line) => eventSchema.parse(JSON.parse(line)));
    expect(streamed[streamed.length - 1]?.type).toBe('workflow.completed');
    const showFollow = await runCliInJest(['workflows', 'show', id, '--follow', '--json'], env);
    expect(workflowDetailSchema.parse(jsonOf(showFollow)).id).toBe(id);
  });

  it('agents, errors and help', async () => {
    const created = await runCliInJest(
      ['agents', 'create', '--type', 'critic', '--name', 'Critic', '--system-prompt', 'Criticise.'],
      env,
    );
    expect(created.code).toBe(0);
    expect(created.stdout).toContain('Created agent critic.');
    const updated = await runCliInJest(
      ['agents', 'update', 'critic', '--temperature', 'default', '--model', 'default', '--json'],
      env,
    );
    expect(agentSchema.parse(jsonOf(updated))).toMatchObject({ model: null, temperature: null });
    const list = await runCliInJest(['agents', 'list', '--limit', '3'], env);
    expect(list.stdout).toMatch(/^TYPE/);
    const show = await runCliInJest(['agents', 'show', 'critic'], env);
    expect(show.stdout).toContain('Criticise.');
    const disabled = await runCliInJest(['agents', 'disable', 'critic', '--json'], env);
    expect(agentSchema.parse(jsonOf(disabled)).status).toBe('disabled');

    const nothing = await runCliInJest(['agents', 'update', 'critic'], env);
    expect(nothing.code).toBe(2);
    const twoTypes = await runCliInJest(
      ['agents', 'update', 'critic', '--type', 'other', '--name', 'x'],
      env,
    );
    expect(twoTypes.stderr).toMatch(/two agent types/);
    const noType = await runCliInJest(['agents', 'update', '--name', 'x'], env);
    expect(noType.stderr).toMatch(/which agent\?/);
    const badTemp = await runCliInJest(['agents', 'update', 'critic', '--temperature', 'hot'], env);
    expect(badTemp.code).toBe(2);
    const unknown = await runCliInJest(['agents', 'show', 'nobody'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe("broski: Agent 'nobody' was not found\n");
    const group = await runCliInJest(['agents', 'bogus'], env);
    expect(group.code).toBe(2);
    const help = await runCliInJest(['workflows'], env);
    expect(help.code).toBe(2);
    expect(help.stderr).toContain('Usage: broski workflows');
  });
});

describe('commands (local only)', () => {
  it('db migrate and db backup, with --json', async () => {
    const env = cliEnv(cliDir());
    const migrated = await runCliInJest(['db', 'migrate', '--json'], env);
    const report = z
      .object({ created: z.boolean(), applied: z.array(z.string()) })
      .parse(jsonOf(migrated));
    expect(report.created).toBe(true);
    expect(report.applied).toContain('0000_initial');
    const backup = await runCliInJest(['db', 'backup'], env);
    expect(backup.code).toBe(0);
    expect(backup.stdout).toMatch(/✓ Backed up .* \(\d+\.\d KiB, integrity ok, \d+ ms\)/);
    const dir = env.BACKUP_DIR ?? '';
    expect(fs.readdirSync(dir)).toHaveLength(1);
    const again = await runCliInJest(['db', 'backup'], { ...env, BACKUP_KEEP: '1' });
    expect(again.stdout).toContain('Removed 1 older backup (BACKUP_KEEP=1).');
    const memory = await runCliInJest(['db', 'backup'], { ...env, DATABASE_PATH: ':memory:' });
    expect(memory.code).toBe(2);
    expect(path.isAbsolute(dir)).toBe(true);
  });

  it('keys create, list and revoke work on the local database only', async () => {
    const env = cliEnv(cliDir());
    const empty = await runCliInJest(['keys', 'list'], env);
    expect(empty.stderr).toContain('No API keys');
    const created = await runCliInJest(['keys', 'create', 'ci'], env);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^bsk_\S+\n$/);
    const listed = await runCliInJest(['keys', 'list', '--json'], env);
    const parsed = jsonOf(listed);
    const id = JSON.stringify(parsed).match(UUID)?.[0] ?? '';
    const table = await runCliInJest(['keys', 'list'], env);
    expect(table.stdout).toMatch(/ci +bsk_.{8}… .* active/);
    const revoked = await runCliInJest(['keys', 'revoke', id], env);
    expect(revoked.stdout).toContain('Revoked API key "ci"');
    const createdJson = await runCliInJest(['keys', 'create', '--name', 'ops', '--json'], env);
    const made = z.object({ name: z.string(), key: z.string() }).parse(jsonOf(createdJson));
    expect(made.name).toBe('ops');
    expect(made.key).toMatch(/^bsk_/);
    const unnamed = await runCliInJest(['keys', 'create'], env);
    expect(unnamed.code).toBe(2);
    const remote = await runCliInJest(['keys', 'list', '--api-url', baseUrl], env);
    expect(remote.code).toBe(2);
    const port = await closedPort();
    const unreachable = await runCliInJest(
      ['workflows', 'list', '--api-url', `http://127.0.0.1:${port}`],
      env,
    );
    expect(unreachable.code).toBe(3);
    const badUrl = await runCliInJest(['workflows', 'list', '--api-url', 'nope'], env);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toBe('broski: --api-url: "nope" is not a URL\n');
  });
});
