import * as http from 'node:http';
import { agentListSchema, agentSchema } from '../../src/modules/agents/agents.contract';
import { ApiKeysService } from '../../src/modules/access/api-keys.service';
import { pageSchema } from '../../src/common/pagination';
import {
  eventSchema,
  workflowDetailSchema,
  workflowSchema,
} from '../../src/modules/workflows/workflows.contract';
import { listen, startTestApp, type TestApp } from '../helpers/app';
import {
  cliDir,
  cliEnv,
  closedPort,
  ensureCliBuilt,
  jsonOf,
  killAllCli,
  runCli,
  UUID,
} from '../helpers/cli';
import { testConfig } from '../helpers/config';

/**
 * `broski` as an HTTP client of a real server (the API application on a temporary database,
 * listening on loopback): the same commands, answers parsed with the contract schemas.
 */
let server: TestApp;
let baseUrl: string;
let env: Record<string, string>;
let fake: http.Server | undefined;

beforeAll(async () => {
  ensureCliBuilt();
  const port = await closedPort();
  server = await startTestApp(
    testConfig({
      OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
      OPENAI_API_KEY: 'test',
      TASK_MAX_ATTEMPTS: '1',
    }),
  );
  baseUrl = await listen(server.app);
  // The client's own database is elsewhere (and stays empty): everything goes to the server.
  env = cliEnv(cliDir(), { BROSKI_API_URL: baseUrl });
});

afterAll(async () => {
  await killAllCli();
  await server.close();
  if (fake !== undefined) fake.close();
});

describe('broski (HTTP mode)', () => {
  it('run --json and a readable run, both followed over SSE', async () => {
    const [json, plain] = await Promise.all([
      runCli(['run', 'Write a haiku about bread', '--json'], env),
      runCli(['run', 'Plan a product launch for our bakery'], env),
    ]);
    expect(json.code).toBe(0);
    const workflow = workflowDetailSchema.parse(jsonOf(json));
    expect(workflow.status).toBe('completed');
    expect(workflow.result?.safety.approved).toBe(true);

    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain(`· ${baseUrl}`);
    expect(plain.stdout).toContain('workflow.planned');
    expect(plain.stdout).toContain('Summary');
    expect(plain.stdout).toMatch(/Safety review: ✓ approved/);
    expect(plain.stdout).toMatch(/Usage: \d+ model calls/);

    // The server has them (the client's own database does not exist).
    const stored = await server.app.inject({
      method: 'GET',
      url: `/api/v1/workflows/${workflow.id}`,
    });
    expect(stored.statusCode).toBe(200);
  });

  it('--detach returns the id at once; the server runs it; --api-url works like the variable', async () => {
    const detached = await runCli(['run', 'Draft a newsletter', '--detach'], env);
    expect(detached.code).toBe(0);
    const id = detached.stdout.trim();
    expect(id).toMatch(new RegExp(`^${UUID.source}$`));

    const { BROSKI_API_URL: _unused, ...withoutVariable } = env;
    const followed = await runCli(
      ['--api-url', `${baseUrl}/api/v1/`, 'workflows', 'show', id, '--follow', '--json'],
      withoutVariable,
    );
    expect(followed.code).toBe(0);
    expect(workflowDetailSchema.parse(jsonOf(followed)).status).toBe('completed');
  });

  it('--require-approval --approve completes', async () => {
    const result = await runCli(
      ['run', 'Design a logo', '--require-approval', '--approve', '--json'],
      env,
    );
    expect(result.code).toBe(0);
    const workflow = workflowDetailSchema.parse(jsonOf(result));
    expect(workflow.status).toBe('completed');
    expect(workflow.requireApproval).toBe(true);
  });

  it('workflows list, show and events (also --follow)', async () => {
    const list = await runCli(['workflows', 'list', '--limit', '2', '--json'], env);
    const page = pageSchema(workflowSchema).parse(jsonOf(list));
    expect(page.items).toHaveLength(2);
    expect(page.nextCursor).not.toBeNull();
    const id = page.items[0]?.id ?? '';

    const [table, show, events, follow] = await Promise.all([
      runCli(['workflows', 'list', '--status', 'completed'], env),
      runCli(['workflows', 'show', id], env),
      runCli(['workflows', 'events', id, '--json'], env),
      runCli(['workflows', 'events', id, '--follow'], env),
    ]);
    expect(table.stdout).toMatch(/^ID +STATUS +STEPS +CREATED +REQUEST/);
    expect(table.stdout).toContain(id);
    expect(show.stdout).toContain(`workflow ${id}`);
    expect(show.stdout).toContain('Summary');
    const parsed = pageSchema(eventSchema).parse(jsonOf(events));
    expect(parsed.items[0]?.type).toBe('workflow.created');
    expect(follow.code).toBe(0);
    expect(follow.stdout.trim().split('\n')).toHaveLength(parsed.items.length);
    expect(follow.stdout).toMatch(/workflow\.completed +Completed/);
  });

  it('agents create, update, disable, list and show', async () => {
    const created = await runCli(
      [
        'agents',
        'create',
        '--type',
        'poet',
        '--name',
        'Poet',
        '--system-prompt',
        'Write poems.',
        '--json',
      ],
      env,
    );
    expect(created.code).toBe(0);
    expect(agentSchema.parse(jsonOf(created))).toMatchObject({ type: 'poet', version: 1 });

    const duplicate = await runCli(
      ['agents', 'create', '--type', 'poet', '--name', 'Poet', '--system-prompt', 'Again.'],
      env,
    );
    expect(duplicate.code).toBe(2);
    expect(duplicate.stderr).toBe("broski: An agent of type 'poet' exists already\n");

    const updated = await runCli(
      ['agents', 'update', 'poet', '--description', 'Rhymes', '--json'],
      env,
    );
    expect(agentSchema.parse(jsonOf(updated))).toMatchObject({ version: 2, description: 'Rhymes' });

    const disabled = await runCli(['agents', 'disable', 'poet', '--json'], env);
    expect(agentSchema.parse(jsonOf(disabled)).status).toBe('disabled');

    const [list, show, refused, required] = await Promise.all([
      runCli(['agents', 'list', '--json'], env),
      runCli(['agents', 'show', 'poet'], env),
      runCli(['run', 'A poem', '--agents', 'poet'], env),
      runCli(['agents', 'disable', 'orchestrator'], env),
    ]);
    const poet = agentListSchema.parse(jsonOf(list)).items.find((a) => a.type === 'poet');
    expect(poet?.status).toBe('disabled');
    expect(show.stdout).toContain('Write poems.');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/"poet" is not an active agent/);
    expect(required.code).toBe(2);
    expect(required.stderr).toMatch(/cannot be disabled/);
  });

  it('a failed workflow exits 1; an unknown id exits 2 (details with --verbose)', async () => {
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
      env,
    );
    expect(created.code).toBe(0);
    const [failed, missing] = await Promise.all([
      runCli(['run', 'Do it', '--agents', 'broken'], env),
      runCli(['workflows', 'show', '01890a5d-ac96-774b-bcce-b302099a8057', '--verbose'], env),
    ]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('✗ Failed');
    expect(failed.stdout).toMatch(/Error: Step "broken" \(broken\) failed after 1 attempt/);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /^broski: Workflow '01890a5d-.*' was not found\nHTTP 404 not_found\nrequest id: /,
    );
  });

  it('an answer that breaks the contract is reported, not trusted', async () => {
    fake = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ items: [{ id: 42 }], nextCursor: null }));
    });
    await new Promise<void>((resolve) => fake?.listen(0, '127.0.0.1', resolve));
    const address = fake.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const result = await runCli(
      ['workflows', 'list', '--api-url', `http://127.0.0.1:${port}`],
      env,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^broski: the server's answer to GET \/api\/v1\/workflows does not match the API contract at items\.0\.id/,
    );
  });

  it('with an API key on the server, the CLI sends BROSKI_API_KEY as a bearer token', async () => {
    const { key } = server.app.get(ApiKeysService).create('cli test');
    const [without, withKey, withFlag] = await Promise.all([
      runCli(['workflows', 'list', '--json'], env),
      runCli(['workflows', 'list', '--json'], { ...env, BROSKI_API_KEY: key }),
      runCli(['agents', 'show', 'writer', '--api-key', key], env),
    ]);
    expect(without.code).toBe(2);
    expect(without.stderr).toMatch(/^broski: .+\n$/);
    expect(withKey.code).toBe(0);
    expect(pageSchema(workflowSchema).parse(jsonOf(withKey)).items.length).toBeGreaterThan(0);
    expect(withFlag.code).toBe(0);
    expect(withFlag.stdout).toContain('Writer');
  });
});
