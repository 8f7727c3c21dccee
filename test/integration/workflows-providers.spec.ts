import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { startTestApp, type TestApp } from '../helpers/app';
import { tempDir, testConfig } from '../helpers/config';
import {
  reply,
  startFakeLlmServer,
  type FakeLlmServer,
  type FakeReply,
  type FakeUsage,
  type ReceivedRequest,
} from '../helpers/fake-llm-server';
import { allEvents, api, getWorkflow, submit, waitForEvent, waitForStatus } from '../helpers/http';
import {
  workflowDetailSchema,
  type WorkflowDetail,
} from '../../src/modules/workflows/workflows.contract';
import { SQLITE } from '../../src/modules/database/database.tokens';
import { PLAN_REPAIR_ATTEMPTS } from '../../src/modules/orchestrator/workflow-engine.service';

/**
 * Whole workflows through the API against a fake OpenAI-compatible / Anthropic server on
 * 127.0.0.1: the real AI SDK clients, the real engine, the inline queue and SQLite.
 */

const OPENAI_KEY = 'sk-test-secret-123';
const ANTHROPIC_KEY = 'sk-ant-test-secret-456';
const MAX_ATTEMPTS = 3;
const TIMEOUT_MS = 500;

interface PlanStep {
  key: string;
  title: string;
  agentType: string;
  instructions: string;
  dependsOn: string[];
}

const step = (key: string, title: string, agentType: string, dependsOn: string[] = []) => ({
  key,
  title,
  agentType,
  instructions: `Do the ${key} part and deliver it.`,
  dependsOn,
});

/** Two independent steps and one that depends on the first. */
const PARALLEL_PLAN: PlanStep[] = [
  step('research', 'Research the market', 'researcher'),
  step('design', 'Design the page', 'designer', ['research']),
  step('copy', 'Write the copy', 'writer'),
];

/** A chain, so that which step runs when is deterministic: copy → research → design. */
const CHAIN_PLAN: PlanStep[] = [
  step('copy', 'Write the copy', 'writer'),
  step('research', 'Research the market', 'researcher', ['copy']),
  step('design', 'Design the page', 'designer', ['research']),
];

const KEY_BY_TITLE = new Map(
  [...PARALLEL_PLAN, ...CHAIN_PLAN].map((s): [string, string] => [s.title, s.key]),
);

type Kind = 'plan' | 'safety' | 'summary' | 'step';

interface Call {
  kind: Kind;
  /** The step key, for step calls. */
  key: string | undefined;
  /** The prompt text as the model received it (system and user messages). */
  text: string;
  /** Index in `server.requests` (for waitForClientClose). */
  index: number;
  /** When the request arrived (Date.now()). */
  at: number;
  request: ReceivedRequest;
  reply: FakeReply;
}

interface Script {
  /** `round` counts plan calls of this workflow from 0 (1 and up are repair calls). */
  plan?: (round: number, usage: FakeUsage) => FakeReply;
  /** `attempt` counts calls for this step key from 1. */
  step?: (key: string, attempt: number, usage: FakeUsage) => FakeReply;
  safety?: (usage: FakeUsage) => FakeReply;
  summary?: (usage: FakeUsage) => FakeReply;
}

/** Every string in a JSON value, joined: the prompt text whatever the API's message shape. */
function stringsOf(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    out.push(value);
    return out;
  }
  const list = z.array(z.unknown()).safeParse(value);
  const record = z.record(z.string(), z.unknown()).safeParse(value);
  const items = list.success ? list.data : record.success ? Object.values(record.data) : [];
  for (const item of items) stringsOf(item, out);
  return out;
}

/** The element at `index`, or a test failure. */
function nth<T>(list: readonly T[], index: number): T {
  const item = list[index];
  if (item === undefined) throw new Error(`no element ${index} in a list of ${list.length}`);
  return item;
}

function classify(text: string): { kind: Kind; key: string | undefined } {
  if (text.includes('## Agents you can assign steps to')) return { kind: 'plan', key: undefined };
  if (text.includes('## Outputs to review')) return { kind: 'safety', key: undefined };
  if (text.includes('## What the team produced')) return { kind: 'summary', key: undefined };
  const title = /## Your step: (.+)/.exec(text)?.[1]?.trim() ?? '';
  return { kind: 'step', key: KEY_BY_TITLE.get(title) ?? `unknown:${title}` };
}

/**
 * One workflow's conversation with the fake server: the requests are routed to it by the
 * workflow's request text (unique per test), answered by its script, and recorded.
 */
class Conversation {
  readonly calls: Call[] = [];
  private tokens = 0;

  constructor(
    readonly marker: string,
    private script: Script,
  ) {}

  /** Changes the answers from now on (e.g. a provider that recovers). */
  rescript(script: Script): void {
    this.script = script;
  }

  answer(request: ReceivedRequest, text: string, index: number): FakeReply {
    const { kind, key } = classify(text);
    // Distinct numbers per call, so that a sum that counts a call twice or misses one shows.
    this.tokens += 1;
    const usage = { inputTokens: 100 + this.tokens * 7, outputTokens: 10 + this.tokens * 3 };
    const before = this.calls.filter((c) => c.kind === kind && c.key === key).length;
    let answer: FakeReply;
    switch (kind) {
      case 'plan':
        answer = (this.script.plan ?? (() => reply.json({ steps: PARALLEL_PLAN }, usage)))(
          before,
          usage,
        );
        break;
      case 'safety':
        answer = (this.script.safety ?? ((u) => reply.json({ approved: true, notes: 'Safe.' }, u)))(
          usage,
        );
        break;
      case 'summary':
        answer = (this.script.summary ?? ((u) => reply.text(`Summary of ${this.marker}`, u)))(
          usage,
        );
        break;
      case 'step':
        answer = (this.script.step ?? ((k, _n, u) => reply.text(`Output of ${k}.`, u)))(
          key ?? '',
          before + 1,
          usage,
        );
        break;
    }
    this.calls.push({ kind, key, text, index, at: Date.now(), request, reply: answer });
    return answer;
  }

  of(kind: Kind, key?: string): Call[] {
    return this.calls.filter((c) => c.kind === kind && (key === undefined || c.key === key));
  }
}

/** Routes every request of a fake server to the conversation whose marker its prompt contains. */
class Router {
  private readonly conversations: Conversation[] = [];
  private counter = 0;

  constructor(private readonly server: FakeLlmServer) {
    server.setDefault((request) => {
      const text = stringsOf(request.body).join('\n');
      const owner = this.conversations.find((c) => text.includes(c.marker));
      if (owner === undefined) return reply.status(500, { message: 'no conversation for this' });
      return owner.answer(request, text, this.server.requests.length);
    });
  }

  /** A new conversation with a unique request text to submit. */
  open(label: string, script: Script = {}): Conversation {
    this.counter += 1;
    const conversation = new Conversation(
      `Build a landing page for a bakery (${label}, #${this.counter})`,
      script,
    );
    this.conversations.push(conversation);
    return conversation;
  }
}

/** The sum of the usage the fake server reported in successful answers. */
function reported(calls: readonly Call[]): { inputTokens: number; outputTokens: number } {
  let inputTokens = 0;
  let outputTokens = 0;
  for (const { reply: r } of calls) {
    if ((r.type === 'text' || r.type === 'json') && r.usage !== undefined) {
      inputTokens += r.usage.inputTokens;
      outputTokens += r.usage.outputTokens;
    }
  }
  return { inputTokens, outputTokens };
}

function taskOf(workflow: WorkflowDetail, key: string) {
  const task = workflow.tasks.find((t) => t.key === key);
  if (task === undefined) throw new Error(`no task ${key} in ${workflow.id}`);
  return task;
}

function expectNothingUnfinished(workflow: WorkflowDetail): void {
  for (const task of workflow.tasks) {
    expect(['completed', 'failed', 'cancelled']).toContain(task.status);
  }
}

/** Waits (bounded) until `check` holds. */
async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A step that answers `failure` on every call; the other calls succeed. */
const failingStep =
  (failing: string, failure: () => FakeReply) =>
  (key: string, _attempt: number, usage: FakeUsage): FakeReply =>
    key === failing ? failure() : reply.text(`Output of ${key}.`, usage);

describe('workflows against a fake OpenAI-compatible server', () => {
  let server: FakeLlmServer;
  let router: Router;
  let openai: TestApp;
  let patient: TestApp;
  let logDir: string;
  let logFile: string;

  beforeAll(async () => {
    server = await startFakeLlmServer();
    router = new Router(server);
    logDir = tempDir('broski-providers-log-');
    logFile = path.join(logDir, 'broski.log');
    const env = {
      DEFAULT_MODEL: 'openai:gpt-test',
      OPENAI_BASE_URL: server.baseUrl,
      OPENAI_API_KEY: OPENAI_KEY,
      LLM_RETRY_BASE_MS: '10',
      TASK_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
    };
    // Debug logs to a file: the last test reads it for the key.
    openai = await startTestApp(
      testConfig({
        ...env,
        LLM_TIMEOUT_MS: String(TIMEOUT_MS),
        LOG_LEVEL: 'debug',
        LOG_FILE: logFile,
      }),
    );
    // A long timeout, so that only the cancel can end a hanging call.
    patient = await startTestApp(testConfig({ ...env, LLM_TIMEOUT_MS: '20000' }));
  });

  afterAll(async () => {
    await openai?.close();
    await patient?.close();
    await server?.close();
    if (logDir !== undefined) fs.rmSync(logDir, { recursive: true, force: true });
  });

  it('sends the key, completes, and sums exactly the usage the server reported', async () => {
    const chat = router.open('success');
    const accepted = await submit(openai.app, { request: chat.marker });
    const done = await waitForStatus(openai.app, accepted.id, ['completed', 'failed']);
    expect(done.status).toBe('completed');
    expect(done.error).toBeNull();

    // One plan, one call per step, the safety review and the summary.
    expect(chat.calls.map((c) => c.kind).sort()).toEqual(
      ['plan', 'safety', 'step', 'step', 'step', 'summary'].sort(),
    );
    for (const call of chat.calls) {
      expect(call.request.api).toBe('openai');
      expect(call.request.path).toBe('/v1/chat/completions');
      expect(call.request.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
      expect(call.request.model).toBe('gpt-test');
    }
    // The plan call asks for structured output with the JSON schema.
    expect(JSON.stringify(chat.of('plan')[0]?.request.body)).toContain('json_schema');

    expect(done.plan?.steps).toEqual(PARALLEL_PLAN);
    for (const task of done.tasks) {
      expect(task.status).toBe('completed');
      expect(task.attempts).toBe(1);
      expect(task.output).toBe(`Output of ${task.key}.`);
      const calls = chat.of('step', task.key);
      expect(calls).toHaveLength(1);
      expect(task.usage).toEqual({ llmCalls: 1, ...reported(calls) });
    }
    // The dependent step saw the output of the step it depends on.
    expect(chat.of('step', 'design')[0]?.text).toContain('Output of research.');
    expect(chat.of('step', 'research')[0]?.text).not.toContain('Output of');

    expect(done.usage).toEqual({ llmCalls: chat.calls.length, ...reported(chat.calls) });
    expect(done.usage.inputTokens).toBeGreaterThan(0);
    expect(done.result).toEqual({
      summary: `Summary of ${chat.marker}`,
      safety: { approved: true, notes: 'Safe.' },
      outputs: {
        research: 'Output of research.',
        design: 'Output of design.',
        copy: 'Output of copy.',
      },
    });
  });

  it('sends an invalid plan back with its errors and runs the repaired plan', async () => {
    const invalid = [
      step('research', 'Research the market', 'astronaut'),
      step('design', 'Design the page', 'designer', ['copy']),
      step('copy', 'Write the copy', 'writer', ['design']),
    ];
    const chat = router.open('repair', {
      plan: (round, usage) => reply.json({ steps: round === 0 ? invalid : PARALLEL_PLAN }, usage),
    });
    const accepted = await submit(openai.app, { request: chat.marker });
    const done = await waitForStatus(openai.app, accepted.id, ['completed', 'failed']);

    expect(done.status).toBe('completed');
    const plans = chat.of('plan');
    expect(plans).toHaveLength(2);
    expect(plans[0]?.text).not.toContain('Your previous plan was rejected');
    const repair = plans[1]?.text ?? '';
    expect(repair).toContain('Your previous plan was rejected');
    expect(repair).toContain('agent type "astronaut" is not available');
    expect(repair).toMatch(
      /the dependencies form a cycle: (design → copy → design|copy → design → copy)/,
    );
    expect(done.plan?.steps.map((s) => s.key)).toEqual(['research', 'design', 'copy']);
    // Both plan calls count.
    expect(done.usage).toEqual({ llmCalls: chat.calls.length, ...reported(chat.calls) });
  });

  it('fails with invalid_plan when the model never proposes a valid plan', async () => {
    const chat = router.open('always-invalid', {
      plan: (_round, usage) =>
        reply.json({ steps: [step('research', 'Research the market', 'astronaut')] }, usage),
    });
    const accepted = await submit(openai.app, { request: chat.marker });
    const failed = await waitForStatus(openai.app, accepted.id, ['completed', 'failed']);

    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('invalid_plan');
    expect(failed.error?.message).toContain('agent type "astronaut" is not available');
    expect(failed.tasks).toEqual([]);
    expect(chat.of('plan')).toHaveLength(PLAN_REPAIR_ATTEMPTS + 1);
    expect(chat.of('step')).toHaveLength(0);
    const types = (await allEvents(openai.app, accepted.id)).map((e) => e.type);
    expect(types[types.length - 1]).toBe('workflow.failed');
  });

  it('waits out a 429 with Retry-After, then completes the step on its second attempt', async () => {
    const chat = router.open('rate-limited', {
      step: (key, attempt, usage) =>
        key === 'research' && attempt === 1
          ? reply.rateLimited(1)
          : reply.text(`Output of ${key}.`, usage),
    });
    const accepted = await submit(openai.app, { request: chat.marker });
    const done = await waitForStatus(openai.app, accepted.id, ['completed', 'failed']);

    expect(done.status).toBe('completed');
    const research = chat.of('step', 'research');
    expect(research).toHaveLength(2);
    expect(nth(research, 1).at - nth(research, 0).at).toBeGreaterThanOrEqual(900);

    const task = taskOf(done, 'research');
    expect(task.attempts).toBe(2);
    expect(task.error).toBeNull();
    // The rate-limited call is counted (with no tokens); the tokens are the successful answer's.
    expect(task.usage).toEqual({ llmCalls: 2, ...reported(research) });
    expect(taskOf(done, 'copy').attempts).toBe(1);

    const events = await allEvents(openai.app, accepted.id);
    const retrying = events.filter((e) => e.type === 'task.retrying');
    expect(retrying).toHaveLength(1);
    expect(retrying[0]?.taskId).toBe(task.id);
    expect(retrying[0]?.data).toMatchObject({
      key: 'research',
      attempt: 1,
      delayMs: 1000,
      error: { code: 'rate_limited' },
    });
    expect(done.usage).toEqual({ llmCalls: chat.calls.length, ...reported(chat.calls) });
  });

  it('fails a step after TASK_MAX_ATTEMPTS 500s, fails the workflow, leaves nothing unfinished', async () => {
    const chat = router.open('always-500', {
      plan: (_round, usage) => reply.json({ steps: CHAIN_PLAN }, usage),
      step: failingStep('research', () => reply.status(500)),
    });
    const accepted = await submit(openai.app, { request: chat.marker });
    const failed = await waitForStatus(openai.app, accepted.id, ['completed', 'failed']);

    expect(failed.status).toBe('failed');
    expect(chat.of('step', 'research')).toHaveLength(MAX_ATTEMPTS);
    const research = taskOf(failed, 'research');
    expect(research.status).toBe('failed');
    expect(research.attempts).toBe(MAX_ATTEMPTS);
    expect(Object.keys(research.error ?? {}).sort()).toEqual(['code', 'message']);
    expect(research.error?.code).toBe('provider_unavailable');
    expect(research.error?.message).toContain('answered 500 Internal Server Error');
    expect(research.usage.llmCalls).toBe(MAX_ATTEMPTS);
    expect(failed.error?.code).toBe('provider_unavailable');
    expect(failed.error?.message).toContain('Step "research"');
    expect(failed.error?.message).toContain(`after ${MAX_ATTEMPTS} attempts`);
    expect(taskOf(failed, 'copy').status).toBe('completed');
    expect(taskOf(failed, 'design').status).toBe('cancelled');
    expect(chat.of('step', 'design')).toHaveLength(0);
    expectNothingUnfinished(failed);
    // Research ran first in copy's job (job chains); its retries had a job of their own.
    const carriedBy = openai.app
      .get<Database.Database>(SQLITE)
      .prepare<[string], { carried_by: string | null }>('SELECT carried_by FROM tasks WHERE id = ?')
      .get(research.id)?.carried_by;
    expect(carriedBy).toBeNull();

    const events = await allEvents(openai.app, accepted.id);
    const own = events.filter((e) => e.taskId === research.id).map((e) => e.type);
    expect(own).toEqual([
      'task.queued',
      'task.started',
      'task.retrying',
      'task.started',
      'task.retrying',
      'task.started',
      'task.failed',
    ]);
    expect(events.filter((e) => e.type === 'workflow.failed')).toHaveLength(1);
    expect(events[events.length - 1]?.type).toBe('workflow.failed');
    // No finalize ran.
    expect(chat.of('safety')).toHaveLength(0);
  });

  it('times out a provider that never answers, retries, then fails with timeout', async () => {
    const chat = router.open('hang', {
      plan: (_round, usage) => reply.json({ steps: CHAIN_PLAN }, usage),
      step: failingStep('research', () => reply.hang()),
    });
    const accepted = await submit(openai.app, { request: chat.marker });
    const failed = await waitForStatus(openai.app, accepted.id, ['completed', 'failed']);

    expect(failed.status).toBe('failed');
    const calls = chat.of('step', 'research');
    expect(calls).toHaveLength(MAX_ATTEMPTS);
    // Each attempt was given up by the client (its connection closed) after the timeout.
    for (const call of calls) await server.waitForClientClose(call.index, 2000);
    for (let i = 1; i < calls.length; i += 1) {
      expect(nth(calls, i).at - nth(calls, i - 1).at).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    }
    const research = taskOf(failed, 'research');
    expect(research.status).toBe('failed');
    expect(research.attempts).toBe(MAX_ATTEMPTS);
    expect(research.error?.code).toBe('timeout');
    expect(research.error?.message).toContain(`${TIMEOUT_MS} ms`);
    expect(failed.error?.code).toBe('timeout');
    expect(failed.error?.message).toContain('Step "research"');
    expectNothingUnfinished(failed);
  });

  it('reports an HTML answer as malformed_response', async () => {
    const chat = router.open('html', {
      plan: (_round, usage) => reply.json({ steps: CHAIN_PLAN }, usage),
      step: failingStep('research', () => reply.html()),
    });
    const accepted = await submit(openai.app, { request: chat.marker });
    const failed = await waitForStatus(openai.app, accepted.id, ['completed', 'failed']);

    expect(failed.status).toBe('failed');
    const research = taskOf(failed, 'research');
    expect(research.error?.code).toBe('malformed_response');
    expect(research.error?.message).toMatch(/HTML/);
    // A malformed answer is retried like any transient failure.
    expect(chat.of('step', 'research')).toHaveLength(MAX_ATTEMPTS);
    expect(research.attempts).toBe(MAX_ATTEMPTS);
    expect(failed.error?.code).toBe('malformed_response');
    expectNothingUnfinished(failed);
  });

  it('does not retry a 401: authentication_failed after one request', async () => {
    const chat = router.open('unauthorized', {
      plan: (_round, usage) => reply.json({ steps: CHAIN_PLAN }, usage),
      step: failingStep('research', () =>
        reply.status(401, { message: 'Incorrect API key provided.' }),
      ),
    });
    const accepted = await submit(openai.app, { request: chat.marker });
    const failed = await waitForStatus(openai.app, accepted.id, ['completed', 'failed']);

    expect(failed.status).toBe('failed');
    expect(chat.of('step', 'research')).toHaveLength(1);
    const research = taskOf(failed, 'research');
    expect(research.attempts).toBe(1);
    expect(research.error?.code).toBe('authentication_failed');
    expect(research.error?.message).toContain('OPENAI_API_KEY');
    expect(failed.error?.code).toBe('authentication_failed');
    expect(failed.error?.message).toContain('Step "research"');
    expectNothingUnfinished(failed);
    const types = (await allEvents(openai.app, accepted.id)).map((e) => e.type);
    expect(types).not.toContain('task.retrying');
  });

  it('aborts a hanging step call on cancel: the server sees its connection closed', async () => {
    const chat = router.open('cancel', {
      plan: (_round, usage) => reply.json({ steps: CHAIN_PLAN }, usage),
      step: failingStep('research', () => reply.hang()),
    });
    const accepted = await submit(patient.app, { request: chat.marker });
    await until(() => chat.of('step', 'research').length === 1, 'the research call');
    const call = nth(chat.of('step', 'research'), 0);
    expect(call.request.clientClosed).toBe(false);

    const started = Date.now();
    const response = await api(patient.app)
      .post(`/api/v1/workflows/${accepted.id}/cancel`)
      .expect(200);
    expect(workflowDetailSchema.parse(JSON.parse(response.text)).status).toBe('cancelled');
    await server.waitForClientClose(call.index, 1500);
    expect(Date.now() - started).toBeLessThan(1500);

    const cancelled = await getWorkflow(patient.app, accepted.id);
    expect(cancelled.status).toBe('cancelled');
    expect(taskOf(cancelled, 'research').status).toBe('cancelled');
    expect(taskOf(cancelled, 'design').status).toBe('cancelled');
    expectNothingUnfinished(cancelled);
    // The aborted call was not retried and did not fail the step.
    await waitForEvent(patient.app, accepted.id, 'workflow.cancelled');
    const types = (await allEvents(patient.app, accepted.id)).map((e) => e.type);
    expect(types).not.toContain('task.retrying');
    expect(types).not.toContain('task.failed');
    expect(chat.of('step', 'research')).toHaveLength(1);
  });

  it('retries a failed workflow: only the failed and cancelled steps run again', async () => {
    const chat = router.open('retry', {
      plan: (_round, usage) => reply.json({ steps: CHAIN_PLAN }, usage),
      step: failingStep('research', () => reply.status(500)),
    });
    const accepted = await submit(openai.app, { request: chat.marker });
    const failed = await waitForStatus(openai.app, accepted.id, ['completed', 'failed']);
    expect(failed.status).toBe('failed');
    expect(taskOf(failed, 'copy').status).toBe('completed');

    chat.rescript({}); // the provider recovers
    const retried = await api(openai.app)
      .post(`/api/v1/workflows/${accepted.id}/retry`)
      .expect(200);
    const restarted = workflowDetailSchema.parse(JSON.parse(retried.text));
    expect(restarted.status).toBe('running');
    expect(restarted.error).toBeNull();
    const done = await waitForStatus(openai.app, accepted.id, ['completed', 'failed']);

    expect(done.status).toBe('completed');
    expect(done.error).toBeNull();
    expect(chat.of('plan')).toHaveLength(1);
    expect(chat.of('step', 'copy')).toHaveLength(1);
    expect(chat.of('step', 'research')).toHaveLength(MAX_ATTEMPTS + 1);
    expect(chat.of('step', 'design')).toHaveLength(1);
    expect(taskOf(done, 'copy').output).toBe('Output of copy.');
    expect(taskOf(done, 'research')).toMatchObject({ attempts: 1, error: null });
    expect(done.result?.outputs).toEqual({
      copy: 'Output of copy.',
      research: 'Output of research.',
      design: 'Output of design.',
    });
    expectNothingUnfinished(done);
    const events = await allEvents(openai.app, accepted.id);
    const completions = events.filter((e) => e.type === 'task.completed');
    expect(completions).toHaveLength(3);
    expect(events[events.length - 1]?.type).toBe('workflow.completed');
    // Usage covers both runs: every request was recorded.
    expect(done.usage).toEqual({ llmCalls: chat.calls.length, ...reported(chat.calls) });
  });

  it('never shows the API key: not in stored errors, events, the database or the debug log', async () => {
    // Servers that echo the key in their error messages.
    const rejected = router.open('key-401', {
      plan: (_round, usage) => reply.json({ steps: CHAIN_PLAN }, usage),
      step: failingStep('research', () =>
        reply.status(401, { message: `Incorrect API key provided: ${OPENAI_KEY}.` }),
      ),
    });
    const broken = router.open('key-500', {
      plan: (_round, usage) => reply.json({ steps: CHAIN_PLAN }, usage),
      step: failingStep('research', () =>
        reply.status(503, { message: `upstream refused Bearer ${OPENAI_KEY}` }),
      ),
    });
    const planFails = router.open('key-plan', {
      plan: () => reply.status(500, { message: `bad key ${OPENAI_KEY}` }),
    });
    const ok = router.open('key-ok');
    const ids: string[] = [];
    for (const chat of [rejected, broken, planFails, ok]) {
      ids.push((await submit(openai.app, { request: chat.marker })).id);
    }
    const finals: WorkflowDetail[] = [];
    for (const id of ids) finals.push(await waitForStatus(openai.app, id, ['completed', 'failed']));
    expect(finals.map((w) => w.status)).toEqual(['failed', 'failed', 'failed', 'completed']);
    expect(finals.map((w) => w.error?.code)).toEqual([
      'authentication_failed',
      'provider_unavailable',
      'provider_unavailable',
      undefined,
    ]);
    // The key was sent to the server, and the server did echo it.
    expect(rejected.calls[0]?.request.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);

    for (const workflow of finals) {
      expect(JSON.stringify(workflow)).not.toContain(OPENAI_KEY);
      expect(JSON.stringify(await allEvents(openai.app, workflow.id))).not.toContain(OPENAI_KEY);
    }
    // The provider's own words are kept, minus the key.
    expect(finals[0]?.error?.message).toContain('Incorrect API key provided');

    // Every table, llm_calls errors included (the WAL holds the recent pages).
    const dbPath = openai.config.database.path;
    for (const file of [dbPath, `${dbPath}-wal`]) {
      if (fs.existsSync(file)) expect(fs.readFileSync(file).includes(OPENAI_KEY)).toBe(false);
    }

    // The debug log of this app (every test of this file ran on it) is written asynchronously:
    // wait until the last failure is in it.
    const lastFailed = nth(ids, 2);
    await until(
      () =>
        fs.existsSync(logFile) &&
        fs.readFileSync(logFile, 'utf8').includes(lastFailed) &&
        fs.readFileSync(logFile, 'utf8').includes('model call succeeded'),
      'the log file',
    );
    const log = fs.readFileSync(logFile, 'utf8');
    expect(log).toContain('model call failed');
    expect(log).not.toContain(OPENAI_KEY);
  });
});

describe('workflows against a fake Anthropic server', () => {
  let server: FakeLlmServer;
  let router: Router;
  let anthropic: TestApp;

  beforeAll(async () => {
    server = await startFakeLlmServer();
    router = new Router(server);
    anthropic = await startTestApp(
      testConfig({
        DEFAULT_MODEL: 'anthropic:claude-test',
        ANTHROPIC_BASE_URL: server.baseUrl,
        ANTHROPIC_API_KEY: ANTHROPIC_KEY,
        LLM_TIMEOUT_MS: String(TIMEOUT_MS),
        LLM_RETRY_BASE_MS: '10',
        TASK_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      }),
    );
  });

  afterAll(async () => {
    await anthropic?.close();
    await server?.close();
  });

  it('sends the key as x-api-key, completes, and sums exactly the reported usage', async () => {
    const chat = router.open('anthropic-success');
    const accepted = await submit(anthropic.app, { request: chat.marker });
    const done = await waitForStatus(anthropic.app, accepted.id, ['completed', 'failed']);

    expect(done.status).toBe('completed');
    expect(chat.calls).toHaveLength(6);
    for (const call of chat.calls) {
      expect(call.request.api).toBe('anthropic');
      expect(call.request.path).toBe('/v1/messages');
      expect(call.request.headers['x-api-key']).toBe(ANTHROPIC_KEY);
      expect(call.request.headers.authorization).toBeUndefined();
      expect(call.request.headers['anthropic-version']).toBeDefined();
      expect(call.request.model).toBe('claude-test');
    }
    for (const task of done.tasks) {
      expect(task).toMatchObject({ status: 'completed', attempts: 1 });
      expect(task.usage).toEqual({ llmCalls: 1, ...reported(chat.of('step', task.key)) });
    }
    expect(done.usage).toEqual({ llmCalls: chat.calls.length, ...reported(chat.calls) });
    expect(done.result?.safety).toEqual({ approved: true, notes: 'Safe.' });
    expect(done.result?.summary).toBe(`Summary of ${chat.marker}`);
  });

  it('retries overloaded answers, then fails the step without leaking the key', async () => {
    const chat = router.open('anthropic-overloaded', {
      plan: (_round, usage) => reply.json({ steps: CHAIN_PLAN }, usage),
      step: failingStep('research', () =>
        reply.status(529, { message: `Overloaded (key ${ANTHROPIC_KEY})` }),
      ),
    });
    const accepted = await submit(anthropic.app, { request: chat.marker });
    const failed = await waitForStatus(anthropic.app, accepted.id, ['completed', 'failed']);

    expect(failed.status).toBe('failed');
    expect(chat.of('step', 'research')).toHaveLength(MAX_ATTEMPTS);
    const research = taskOf(failed, 'research');
    expect(research).toMatchObject({ status: 'failed', attempts: MAX_ATTEMPTS });
    expect(research.error?.code).toBe('provider_unavailable');
    expect(failed.error?.message).toContain('Step "research"');
    expectNothingUnfinished(failed);
    expect(JSON.stringify(failed)).not.toContain(ANTHROPIC_KEY);
    expect(JSON.stringify(await allEvents(anthropic.app, accepted.id))).not.toContain(
      ANTHROPIC_KEY,
    );
  });

  it('does not retry a 401 from Anthropic', async () => {
    const chat = router.open('anthropic-401', {
      plan: (_round, usage) => reply.json({ steps: CHAIN_PLAN }, usage),
      step: failingStep('research', () => reply.status(401, { message: 'invalid x-api-key' })),
    });
    const accepted = await submit(anthropic.app, { request: chat.marker });
    const failed = await waitForStatus(anthropic.app, accepted.id, ['completed', 'failed']);

    expect(failed.status).toBe('failed');
    expect(chat.of('step', 'research')).toHaveLength(1);
    expect(taskOf(failed, 'research').error?.code).toBe('authentication_failed');
    expect(taskOf(failed, 'research').error?.message).toContain('ANTHROPIC_API_KEY');
    expectNothingUnfinished(failed);
  });
});
