import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { agentListSchema, agentSchema } from '../../src/modules/agents/agents.contract';
import { pageSchema } from '../../src/common/pagination';
import {
  eventSchema,
  workflowDetailSchema,
  workflowSchema,
} from '../../src/modules/workflows/workflows.contract';
import {
  cliDir,
  cliEnv,
  closedPort,
  ensureCliBuilt,
  jsonOf,
  killAllCli,
  runCli,
  spawnCli,
  UUID,
} from '../helpers/cli';

/**
 * `broski` in-process, as a user runs it: the built binary on a temporary database, executing
 * the workflows itself with the offline model.
 */
const workflowPage = pageSchema(workflowSchema);
const eventPage = pageSchema(eventSchema);

let dir: string;
let env: Record<string, string>;

beforeAll(() => {
  ensureCliBuilt();
  dir = cliDir();
  env = cliEnv(dir);
});

afterAll(killAllCli);

describe('broski (in-process)', () => {
  it('--help lists every command; --version prints the version', async () => {
    const [help, workflows, agents, db, version] = await Promise.all([
      runCli(['--help'], env),
      runCli(['workflows', '--help'], env),
      runCli(['agents', '--help'], env),
      runCli(['db', '--help'], env),
      runCli(['--version'], env),
    ]);
    expect(help.code).toBe(0);
    for (const command of ['run', 'workflows', 'agents', 'serve', 'worker', 'db', 'keys']) {
      expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
    expect(help.stdout).toContain('--api-url');
    expect(help.stdout).toContain('--json');
    expect(help.stdout).toContain('Exit codes');
    for (const sub of ['list', 'show', 'events', 'cancel', 'approve', 'reject', 'retry']) {
      expect(workflows.stdout).toMatch(new RegExp(`^  ${sub}\\b`, 'm'));
    }
    for (const sub of ['list', 'show', 'create', 'update', 'disable']) {
      expect(agents.stdout).toMatch(new RegExp(`^  ${sub}\\b`, 'm'));
    }
    expect(db.stdout).toMatch(/^ {2}migrate\b/m);
    expect(db.stdout).toMatch(/^ {2}backup\b/m);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('run --json exits 0 with the completed workflow, and nothing else on stdout', async () => {
    const result = await runCli(['run', 'Write a haiku about bread', '--json'], env);
    expect(result.code).toBe(0);
    const workflow = workflowDetailSchema.parse(jsonOf(result));
    expect(workflow.status).toBe('completed');
    expect(workflow.result?.summary).toBeTruthy();
    expect(workflow.result?.safety.approved).toBe(true);
    expect(workflow.tasks.length).toBeGreaterThan(0);
    expect(workflow.tasks.every((t) => t.status === 'completed')).toBe(true);
    expect(workflow.usage.llmCalls).toBeGreaterThan(0);
    expect(result.stderr).toBe('');
  });

  it('run without --json prints one line per event, then a readable result', async () => {
    const result = await runCli(['run', 'Plan a product launch for our bakery'], env);
    expect(result.code).toBe(0);
    const out = result.stdout;
    for (const type of [
      'workflow.planning',
      'workflow.planned',
      'task.started',
      'task.completed',
    ]) {
      expect(out).toContain(type);
    }
    expect(out).toMatch(/^\d\d:\d\d:\d\d +#\d+ +workflow\.completed/m);
    expect(out).toContain('✓ Completed');
    expect(out).toContain('Summary');
    expect(out).toMatch(/Safety review: ✓ approved/);
    expect(out).toContain('Steps');
    expect(out).toMatch(/✓ 1\. .+\[research · researcher\] completed/);
    expect(out).toMatch(/Usage: \d+ model calls · [\d,]+ input tokens · [\d,]+ output tokens/);
    // No ANSI colors when stdout is not a terminal.
    expect(out).not.toContain('\u001b[');
    expect(result.stderr).toBe('');
  });

  it('--detach prints the id at once; following it later runs it here', async () => {
    const started = Date.now();
    const detached = await runCli(['run', 'Draft a newsletter', '--detach'], env);
    expect(detached.code).toBe(0);
    const id = detached.stdout.trim();
    expect(id).toMatch(new RegExp(`^${UUID.source}$`));
    expect(Date.now() - started).toBeLessThan(8000);
    expect(detached.stderr).toContain(`broski workflows show ${id} --follow`);

    const stored = workflowDetailSchema.parse(
      jsonOf(await runCli(['workflows', 'show', id, '--json'], env)),
    );
    expect(stored.status).toBe('pending');

    const followed = await runCli(['workflows', 'show', id, '--follow', '--json'], env);
    expect(followed.code).toBe(0);
    expect(workflowDetailSchema.parse(jsonOf(followed)).status).toBe('completed');
  });

  it('--require-approval --approve completes; without --approve it stops at the plan', async () => {
    const [approved, waiting] = await Promise.all([
      runCli(['run', 'Design a logo', '--require-approval', '--approve', '--json'], env),
      runCli(['run', 'Design a menu', '--require-approval'], cliEnv(cliDir())),
    ]);
    expect(approved.code).toBe(0);
    const workflow = workflowDetailSchema.parse(jsonOf(approved));
    expect(workflow.status).toBe('completed');
    expect(workflow.requireApproval).toBe(true);

    expect(waiting.code).toBe(0);
    expect(waiting.stdout).toContain('waits for approval');
    const id = UUID.exec(waiting.stdout)?.[0] ?? '';
    expect(waiting.stderr).toContain(`broski workflows approve ${id}`);
  });

  it('workflows approve follows the approved plan to the end; reject cancels', async () => {
    const local = cliEnv(cliDir());
    const [first, second] = await Promise.all([
      runCli(['run', 'Plan A', '--require-approval', '--detach'], local),
      runCli(['run', 'Plan B', '--require-approval', '--detach'], local),
    ]);
    // Two processes created the new database at once: both must have stored their workflow.
    expect([first.code, second.code, first.stderr + second.stderr]).toEqual([
      0,
      0,
      expect.not.stringMatching(/broski: /),
    ]);
    const [a, b] = [first.stdout.trim(), second.stdout.trim()];
    // Following in-process plans them; the follow stops where the plan waits for approval.
    for (const id of [a, b]) {
      const planned = await runCli(['workflows', 'show', id, '--follow', '--json'], local);
      expect(planned.code).toBe(0);
      expect(workflowDetailSchema.parse(jsonOf(planned)).status).toBe('awaiting_approval');
    }

    const approve = await runCli(['workflows', 'approve', a, '--json'], local);
    expect(approve.code).toBe(0);
    expect(workflowDetailSchema.parse(jsonOf(approve)).status).toBe('completed');

    const reject = await runCli(['workflows', 'reject', b], local);
    expect(reject.code).toBe(0);
    expect(reject.stdout).toBe(`Rejected workflow ${b}: it is cancelled.\n`);

    const again = await runCli(['workflows', 'approve', a], local);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^broski: Cannot approve a workflow that is completed/);
  });

  it('workflows list, show and events', async () => {
    const list = await runCli(['workflows', 'list', '--json'], env);
    expect(list.code).toBe(0);
    const page = workflowPage.parse(jsonOf(list));
    expect(page.items.length).toBeGreaterThanOrEqual(3);
    const completed = page.items.find((w) => w.status === 'completed');
    if (completed === undefined) throw new Error('no completed workflow');

    const [table, one, show, events, eventsJson] = await Promise.all([
      runCli(['workflows', 'list'], env),
      runCli(['workflows', 'list', '--status', 'completed', '--limit', '1', '--json'], env),
      runCli(['workflows', 'show', completed.id], env),
      runCli(['workflows', 'events', completed.id], env),
      runCli(['workflows', 'events', completed.id, '--json'], env),
    ]);
    expect(table.stdout).toMatch(/^ID +STATUS +STEPS +CREATED +REQUEST/);
    expect(table.stdout).toContain(completed.id);

    const firstPage = workflowPage.parse(jsonOf(one));
    expect(firstPage.items).toHaveLength(1);
    expect(firstPage.nextCursor).not.toBeNull();
    const next = await runCli(
      [
        'workflows',
        'list',
        '--status',
        'completed',
        '--limit',
        '1',
        '--cursor',
        String(firstPage.nextCursor),
        '--json',
      ],
      env,
    );
    const secondPage = workflowPage.parse(jsonOf(next));
    expect(secondPage.items[0]?.id).not.toBe(firstPage.items[0]?.id);

    expect(show.code).toBe(0);
    expect(show.stdout).toContain('Summary');
    expect(show.stdout).toContain(`workflow ${completed.id}`);

    expect(events.stdout).toMatch(/^\d\d:\d\d:\d\d +#\d+ +workflow\.created/);
    expect(events.stdout).toContain('workflow.completed');
    const parsedEvents = eventPage.parse(jsonOf(eventsJson));
    expect(parsedEvents.items[parsedEvents.items.length - 1]?.type).toBe('workflow.completed');
  });

  it('agents create, update, disable, list and show', async () => {
    const created = await runCli(
      [
        'agents',
        'create',
        '--type',
        'translator',
        '--name',
        'Translator',
        '--system-prompt',
        'Translate into French.',
        '--description',
        'Translates text',
        '--temperature',
        '0.3',
        '--json',
      ],
      env,
    );
    expect(created.code).toBe(0);
    const agent = agentSchema.parse(jsonOf(created));
    expect(agent).toMatchObject({
      type: 'translator',
      version: 1,
      status: 'active',
      temperature: 0.3,
    });

    const updated = await runCli(
      [
        'agents',
        'update',
        'translator',
        '--model',
        'offline',
        '--max-output-tokens',
        '500',
        '--json',
      ],
      env,
    );
    expect(agentSchema.parse(jsonOf(updated))).toMatchObject({
      version: 2,
      model: 'offline',
      maxOutputTokens: 500,
    });

    const disabled = await runCli(['agents', 'disable', 'translator'], env);
    expect(disabled.code).toBe(0);
    expect(disabled.stdout).toContain('Disabled agent translator.');
    expect(disabled.stdout).toMatch(/status: +disabled/);

    const [list, show, active] = await Promise.all([
      runCli(['agents', 'list'], env),
      runCli(['agents', 'show', 'translator'], env),
      runCli(['agents', 'list', '--status', 'active', '--json'], env),
    ]);
    expect(list.stdout).toMatch(/^TYPE +NAME +STATUS +MODEL +VERSION +DESCRIPTION/);
    expect(list.stdout).toMatch(/translator +Translator +disabled +offline +3/);
    expect(show.stdout).toContain('Translate into French.');
    const types = agentListSchema.parse(jsonOf(active)).items.map((a) => a.type);
    expect(types).toContain('researcher');
    expect(types).not.toContain('translator');

    // A disabled agent in --agents is refused (400): a validation error, exit 2.
    const refused = await runCli(['run', 'Translate this', '--agents', 'translator'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^broski: .*"translator" is not an active agent/);

    const reenabled = await runCli(
      ['agents', 'update', '--type', 'translator', '--enable', '--json'],
      env,
    );
    expect(agentSchema.parse(jsonOf(reenabled)).status).toBe('active');
  });

  it('a workflow whose step fails for good exits 1', async () => {
    const port = await closedPort();
    const failing = cliEnv(cliDir(), {
      OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
      OPENAI_API_KEY: 'test',
      TASK_MAX_ATTEMPTS: '1',
    });
    const created = await runCli(
      [
        'agents',
        'create',
        '--type',
        'broken',
        '--name',
        'Broken',
        '--system-prompt',
        'x',
        '--model',
        'openai:x',
      ],
      failing,
    );
    expect(created.code).toBe(0);
    const [plain, json] = await Promise.all([
      runCli(['run', 'Do it', '--agents', 'broken'], failing),
      runCli(['run', 'Do it again', '--agents', 'broken', '--json'], failing),
    ]);
    expect(plain.code).toBe(1);
    expect(plain.stdout).toContain('✗ Failed');
    expect(plain.stdout).toContain('task.failed');
    expect(json.code).toBe(1);
    expect(workflowDetailSchema.parse(jsonOf(json)).status).toBe('failed');
  });

  it('usage, validation and configuration errors exit 2 with one line on stderr', async () => {
    const cases = await Promise.all([
      runCli(['run', 'x', '--bogus'], env),
      runCli(['run'], env),
      runCli(['run', '   '], env),
      runCli(['workflows', 'list', '--limit', 'abc'], env),
      runCli(['workflows', 'show', 'not-an-id'], env),
      runCli(['workflows', 'show', '01890a5d-ac96-774b-bcce-b302099a8057'], env),
      runCli(['workflows', 'nope'], env),
      runCli(['agents', 'create', '--type', 'x'], env),
      runCli(['workflows', 'list'], { ...env, PORT: 'abc' }),
      runCli([], env),
    ]);
    const [unknown, missing, empty, limit, badId, notFound, badCommand, badAgent, config, bare] =
      cases;
    for (const result of cases) expect(result.code).toBe(2);
    expect(unknown?.stderr).toBe("broski: unknown option '--bogus' (see 'broski run --help')\n");
    expect(missing?.stderr).toMatch(/^broski: missing required argument 'request'/);
    expect(empty?.stderr).toBe('broski: the request: must not be empty\n');
    expect(limit?.stderr).toMatch(/^broski: option '--limit <n>' argument 'abc' is invalid/);
    expect(badId?.stderr).toMatch(/^broski: workflow id: must be a workflow id/);
    expect(notFound?.stderr).toMatch(/^broski: Workflow '01890a5d-.*' was not found\n$/);
    expect(badCommand?.stderr).toMatch(/^broski: unknown command 'workflows nope'/);
    expect(badAgent?.stderr).toMatch(/^broski: .*--type: must be 2–40 characters/);
    expect(badAgent?.stderr).toMatch(/--name/);
    expect(config?.stderr).toMatch(
      /^broski: Invalid configuration: PORT must be a whole number\n$/,
    );
    expect(bare?.stderr).toContain('Usage: broski');
    for (const result of cases.slice(0, 9)) {
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('an unreachable server exits 3', async () => {
    const port = await closedPort();
    const result = await runCli(
      ['workflows', 'list', '--api-url', `http://127.0.0.1:${port}`],
      env,
    );
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(
      `broski: cannot reach the Broski server at http://127.0.0.1:${port} (connection refused)\n`,
    );
  });

  it('db migrate tells what it did; db backup writes a verified copy and keeps BACKUP_KEEP', async () => {
    const fresh = cliEnv(cliDir(), { BACKUP_KEEP: '2' });
    const first = await runCli(['db', 'migrate'], fresh);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/Applied \d+ migrations? to .*broski\.db:\n {2}✓ 0000_initial/);
    const second = await runCli(['db', 'migrate'], fresh);
    expect(second.stdout).toMatch(/is up to date \(\d+ migrations applied\)/);

    const backupsOfMissing = await runCli(['db', 'backup'], cliEnv(cliDir()));
    expect(backupsOfMissing.code).toBe(2);
    expect(backupsOfMissing.stderr).toMatch(/^broski: there is no database at /);

    // The shared database has workflows: back it up to an explicit path, then three times by default.
    const target = path.join(cliDir(), 'copy', 'broski-copy.db');
    const explicit = await runCli(['db', 'backup', target], env);
    expect(explicit.code).toBe(0);
    expect(explicit.stdout).toContain(`to ${target}`);
    expect(explicit.stdout).toContain('integrity ok');
    const copy = new Database(target, { readonly: true });
    try {
      expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
      const count = z
        .object({ n: z.number() })
        .parse(copy.prepare('SELECT count(*) AS n FROM workflows').get());
      expect(count.n).toBeGreaterThan(3);
      expect(copy.pragma('journal_mode', { simple: true })).toBe('delete');
    } finally {
      copy.close();
    }
    expect(fs.readdirSync(path.dirname(target))).toEqual(['broski-copy.db']);

    const keep = { ...env, BACKUP_KEEP: '2' };
    for (let i = 0; i < 3; i += 1) {
      const result = await runCli(['db', 'backup', '--json'], keep);
      expect(result.code).toBe(0);
    }
    const backups = fs.readdirSync(env.BACKUP_DIR ?? '');
    expect(backups).toHaveLength(2);
    for (const name of backups) expect(name).toMatch(/^broski-\d{8}T\d{9}Z\.db$/);
  });

  it('Ctrl-C while following detaches (exit 130) and leaves the workflow resumable', async () => {
    const slow = cliEnv(cliDir(), { OFFLINE_LATENCY_MS: '400' });
    const child = spawnCli(['run', 'Build a landing page for a bakery'], slow);
    const [, id] = await child.waitFor(new RegExp(`Workflow (${UUID.source})`));
    await child.waitFor(/task\.started/);
    child.proc.kill('SIGINT');
    const interrupted = await child.exited;
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toContain(`Detached from workflow ${id}`);
    expect(interrupted.stderr).toContain(`broski workflows events ${id} --follow`);
    expect(interrupted.stderr).toContain(`broski workflows cancel ${id}`);

    const stored = workflowDetailSchema.parse(
      jsonOf(await runCli(['workflows', 'show', String(id), '--json'], slow)),
    );
    expect(stored.status).toBe('running');

    const resumed = await runCli(['workflows', 'show', String(id), '--follow', '--json'], slow);
    expect(resumed.code).toBe(0);
    expect(workflowDetailSchema.parse(jsonOf(resumed)).status).toBe('completed');
  });

  it('a workflow cancelled from another process exits 1', async () => {
    const slow = cliEnv(cliDir(), { OFFLINE_LATENCY_MS: '500' });
    const child = spawnCli(['run', 'Write a long report'], slow);
    const [, id] = await child.waitFor(new RegExp(`Workflow (${UUID.source})`));
    await child.waitFor(/task\.started/);
    const cancel = await runCli(['workflows', 'cancel', String(id)], slow);
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(`Cancelled workflow ${id}`);
    const followed = await child.exited;
    expect(followed.code).toBe(1);
    expect(followed.stdout).toContain('workflow.cancelled');
    expect(followed.stdout).toContain('⊘ Cancelled');
  });
});
