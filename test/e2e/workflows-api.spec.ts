import { setTimeout as sleep } from 'node:timers/promises';
import { startTestApp, listen, type TestApp } from '../helpers/app';
import { testConfig } from '../helpers/config';
import {
  allEvents,
  api,
  eventsPage,
  getWorkflow,
  submit,
  waitForEvent,
  waitForStatus,
} from '../helpers/http';
import { readSse } from '../helpers/sse';
import { workflowDetailSchema, taskSchema } from '../../src/modules/workflows/workflows.contract';

const BAKERY = 'Research, design and build a landing page for a bakery';

describe('workflows over HTTP (offline model, inline queue)', () => {
  let t: TestApp;
  let slow: TestApp;
  let slowUrl: string;

  beforeAll(async () => {
    t = await startTestApp(testConfig());
    // A second instance whose offline model takes a while per call, for live and cancel tests.
    slow = await startTestApp(testConfig({ OFFLINE_LATENCY_MS: '400' }));
    slowUrl = await listen(slow.app);
  });

  afterAll(async () => {
    await t?.close();
    await slow?.close();
  });

  it('plans a multi-part request into a dependency graph and completes it', async () => {
    const response = await api(t.app).post('/api/v1/workflows').send({ request: BAKERY });
    expect(response.status).toBe(202);
    expect(response.headers['location']).toBe(`/api/v1/workflows/${response.body.id}`);
    expect(response.headers['content-type']).toMatch(/application\/json/);
    const accepted = workflowDetailSchema.parse(response.body);
    expect(accepted.request).toBe(BAKERY);

    const done = await waitForStatus(t.app, accepted.id, ['completed', 'failed']);
    expect(done.status).toBe('completed');
    expect(done.error).toBeNull();
    const types = new Set(done.tasks.map((task) => task.agentType));
    expect(types.size).toBeGreaterThanOrEqual(2);
    expect(done.tasks.some((task) => task.dependsOn.length > 0)).toBe(true);
    expect(done.plan?.steps.map((s) => s.key)).toEqual(done.tasks.map((task) => task.key));

    // No step started before every step it depends on had finished.
    const byKey = new Map(done.tasks.map((task) => [task.key, task]));
    for (const task of done.tasks) {
      expect(task.status).toBe('completed');
      expect(task.attempts).toBe(1);
      for (const dep of task.dependsOn) {
        const finished = byKey.get(dep)?.finishedAt ?? '';
        expect(finished <= (task.startedAt ?? '')).toBe(true);
      }
    }
    // Each step saw the outputs it depends on.
    const dependent = done.tasks.find((task) => task.dependsOn.length > 0);
    expect(dependent?.output).toContain(
      byKey.get(dependent?.dependsOn[0] ?? '')?.title ?? '<none>',
    );

    expect(done.result?.summary.length).toBeGreaterThan(20);
    expect(done.result?.safety.approved).toBe(true);
    expect(Object.keys(done.result?.outputs ?? {}).sort()).toEqual(
      done.tasks.map((x) => x.key).sort(),
    );
    // Usage: every step's call, plus planning, safety review and summary.
    expect(done.usage.llmCalls).toBe(done.tasks.length + 3);
    expect(done.usage.inputTokens).toBeGreaterThan(0);
    expect(done.usage.outputTokens).toBeGreaterThan(0);
    const stepTokens = done.tasks.reduce((sum, task) => sum + task.usage.inputTokens, 0);
    expect(stepTokens).toBeLessThan(done.usage.inputTokens);
    for (const task of done.tasks) expect(task.usage.llmCalls).toBe(1);
    expect(done.startedAt).not.toBeNull();
    expect(done.finishedAt).not.toBeNull();
  });

  it('records complete, ordered events and pages them with ?after=', async () => {
    const workflow = await submit(t.app, { request: BAKERY });
    await waitForStatus(t.app, workflow.id, ['completed']);
    const events = await allEvents(t.app, workflow.id);
    const types = events.map((e) => e.type);
    expect(types.slice(0, 4)).toEqual([
      'workflow.created',
      'workflow.planning',
      'workflow.planned',
      'workflow.started',
    ]);
    expect(types[types.length - 1]).toBe('workflow.completed');
    const detail = await getWorkflow(t.app, workflow.id);
    for (const task of detail.tasks) {
      const own = events.filter((e) => e.taskId === task.id);
      expect(own.map((e) => e.type)).toEqual(['task.queued', 'task.started', 'task.completed']);
      // Dated when the run began, even for a step stored in one transaction with its result.
      expect(own[1]!.createdAt).toBe(task.startedAt);
      expect(own[1]!.createdAt <= own[2]!.createdAt).toBe(true);
      expect(task.attempts).toBe(1);
    }
    for (let i = 1; i < events.length; i += 1) {
      expect(events[i]!.id).toBeGreaterThan(events[i - 1]!.id);
    }
    // A step's task.started comes after the task.completed of each dependency.
    for (const task of detail.tasks) {
      const started = events.find((e) => e.taskId === task.id && e.type === 'task.started')!.id;
      for (const dep of task.dependsOn) {
        const depTask = detail.tasks.find((x) => x.key === dep)!;
        const completed = events.find(
          (e) => e.taskId === depTask.id && e.type === 'task.completed',
        )!.id;
        expect(completed).toBeLessThan(started);
      }
    }

    const first = eventsPage.parse(
      (await api(t.app).get(`/api/v1/workflows/${workflow.id}/events?limit=3`).expect(200)).body,
    );
    expect(first.items.map((e) => e.id)).toEqual(events.slice(0, 3).map((e) => e.id));
    expect(first.nextCursor).toBe(String(events[2]!.id));
    const rest = eventsPage.parse(
      (
        await api(t.app)
          .get(`/api/v1/workflows/${workflow.id}/events?after=${first.nextCursor}&limit=1000`)
          .expect(200)
      ).body,
    );
    expect(rest.items.map((e) => e.id)).toEqual(events.slice(3).map((e) => e.id));
    expect(rest.nextCursor).toBeNull();
  });

  it('replays a finished workflow over SSE and closes after the terminal event', async () => {
    const workflow = await submit(slow.app, { request: 'Write a short poem about bread' });
    await waitForStatus(slow.app, workflow.id, ['completed']);
    const stored = await allEvents(slow.app, workflow.id);
    const stream = await readSse(`${slowUrl}/api/v1/workflows/${workflow.id}/events`);
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/text\/event-stream/);
    expect(stream.messages.map((m) => Number(m.id))).toEqual(stored.map((e) => e.id));
    expect(stream.messages.map((m) => m.event)).toEqual(stored.map((e) => e.type));
    const last = stream.messages[stream.messages.length - 1]!;
    expect(JSON.parse(last.data)).toMatchObject({
      type: 'workflow.completed',
      workflowId: workflow.id,
    });

    // Resuming with Last-Event-ID sends only what came after it.
    const resumeFrom = stored[4]!.id;
    const resumed = await readSse(`${slowUrl}/api/v1/workflows/${workflow.id}/events`, {
      'last-event-id': String(resumeFrom),
    });
    expect(resumed.messages.map((m) => Number(m.id))).toEqual(
      stored.filter((e) => e.id > resumeFrom).map((e) => e.id),
    );

    // A client reconnecting after the terminal event gets nothing more, and the stream ends.
    const lastId = stored[stored.length - 1]!.id;
    const after = await readSse(
      `${slowUrl}/api/v1/workflows/${workflow.id}/events`,
      {
        'last-event-id': String(lastId),
      },
      5000,
    );
    expect(after.status).toBe(200);
    expect(after.messages).toEqual([]);
  });

  it('streams a running workflow live over SSE', async () => {
    const workflow = await submit(slow.app, { request: BAKERY });
    const seenAt: number[] = [];
    const stream = await readSse(
      `${slowUrl}/api/v1/workflows/${workflow.id}/events`,
      {},
      30_000,
      () => seenAt.push(Date.now()),
    );
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    // The stream carries the headers every other response has.
    expect(stream.headers['x-request-id']).toBeDefined();
    expect(stream.headers['x-content-type-options']).toBe('nosniff');
    expect(stream.headers['strict-transport-security']).toBeDefined();
    const types = stream.messages.map((m) => m.event);
    expect(types[0]).toBe('workflow.created');
    expect(types[types.length - 1]).toBe('workflow.completed');
    expect(types.filter((x) => x === 'task.completed').length).toBeGreaterThanOrEqual(3);
    // Live: the messages arrived over time (each model call takes 400 ms), not in one burst.
    expect(seenAt[seenAt.length - 1]! - seenAt[0]!).toBeGreaterThan(800);
  });

  it('answers 404 problem+json for the stream of an unknown workflow', async () => {
    const response = await api(t.app)
      .get('/api/v1/workflows/01a20b3c-af20-7691-8278-4cc98beda026/events')
      .set('accept', 'text/event-stream');
    expect(response.status).toBe(404);
    expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
  });

  it('shows a step as running, with its task.started event, while its model call is in flight', async () => {
    const workflow = await submit(slow.app, { request: 'Write a short poem about bread' });
    let running: { id: string; startedAt: string | null } | undefined;
    for (let i = 0; i < 100 && running === undefined; i += 1) {
      running = (await getWorkflow(slow.app, workflow.id)).tasks.find(
        (x) => x.status === 'running',
      );
      if (running === undefined) await sleep(20);
    }
    expect(running).toBeDefined();
    expect(running!.startedAt).not.toBeNull();
    const events = await allEvents(slow.app, workflow.id);
    expect(events.some((e) => e.taskId === running!.id && e.type === 'task.started')).toBe(true);
    expect(events.some((e) => e.taskId === running!.id && e.type === 'task.completed')).toBe(false);
    await waitForStatus(slow.app, workflow.id, ['completed'], 30_000);
  });

  it('runs independent steps at the same time', async () => {
    const workflow = await submit(slow.app, {
      request: 'Research our bakery customers, then design a new logo and write a blog post',
    });
    const done = await waitForStatus(slow.app, workflow.id, ['completed'], 30_000);
    const roots = done.tasks.filter((task) => task.dependsOn.length === 0);
    const siblings = done.tasks.filter(
      (task) =>
        task.dependsOn.length > 0 &&
        done.tasks.filter((o) => o.dependsOn.join() === task.dependsOn.join()).length > 1,
    );
    const group = roots.length > 1 ? roots : siblings;
    expect(group.length).toBeGreaterThan(1);
    // Parallel steps overlap in time: each started before the other finished.
    const [a, b] = group;
    expect((a!.startedAt ?? '') < (b!.finishedAt ?? '')).toBe(true);
    expect((b!.startedAt ?? '') < (a!.finishedAt ?? '')).toBe(true);
  });

  it('returns the same workflow for a repeated Idempotency-Key and refuses a different body', async () => {
    const key = `key-${Date.now()}`;
    const first = await api(t.app)
      .post('/api/v1/workflows')
      .set('idempotency-key', key)
      .send({ request: 'Plan a picnic' });
    expect(first.status).toBe(202);
    const again = await api(t.app)
      .post('/api/v1/workflows')
      .set('idempotency-key', key)
      .send({ request: 'Plan a picnic' });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const other = await api(t.app)
      .post('/api/v1/workflows')
      .set('idempotency-key', key)
      .send({ request: 'Plan a party' });
    expect(other.status).toBe(422);
    expect(other.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(other.body.code).toBe('idempotency_key_reused');
    // A replay answers with the stored workflow even after its agents were disabled.
    const agentKey = `agent-key-${Date.now()}`;
    await api(t.app)
      .post('/api/v1/agents')
      .send({ type: `temp-${Date.now()}`.slice(0, 30), name: 'Temp', systemPrompt: 'Write.' })
      .expect(201);
    const temp = (await api(t.app).get('/api/v1/agents?limit=100').expect(200)).body.items.find(
      (a: { type: string }) => a.type.startsWith('temp-'),
    );
    const body = { request: 'Write something', agents: [temp.type] };
    const original = await api(t.app)
      .post('/api/v1/workflows')
      .set('idempotency-key', agentKey)
      .send(body);
    expect(original.status).toBe(202);
    await api(t.app).delete(`/api/v1/agents/${temp.type}`).expect(200);
    const replay = await api(t.app)
      .post('/api/v1/workflows')
      .set('idempotency-key', agentKey)
      .send(body);
    expect(replay.status).toBe(200);
    expect(replay.body.id).toBe(original.body.id);

    const bad = await api(t.app)
      .post('/api/v1/workflows')
      .set('idempotency-key', 'has space')
      .send({ request: 'x' });
    expect(bad.status).toBe(400);
  });

  it('waits with ?wait= and answers 200 with the finished workflow', async () => {
    const response = await api(t.app)
      .post('/api/v1/workflows?wait=5')
      .send({ request: 'Write a haiku about rye' });
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('completed');
    expect(response.body.result.summary).toEqual(expect.any(String));
    const tooLong = await api(t.app).post('/api/v1/workflows?wait=6').send({ request: 'x' });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.errors[0].path).toBe('wait');
  });

  it('answers 202 when ?wait= runs out before the end', async () => {
    const response = await api(slow.app)
      .post('/api/v1/workflows?wait=0.3')
      .send({ request: BAKERY });
    expect(response.status).toBe(202);
    expect(['pending', 'planning', 'running']).toContain(response.body.status);
  });

  it('stops for approval, then runs after approve; a second approve answers 409', async () => {
    const workflow = await submit(t.app, { request: BAKERY, requireApproval: true });
    const waiting = await waitForStatus(t.app, workflow.id, ['awaiting_approval']);
    expect(waiting.plan?.steps.length).toBeGreaterThan(0);
    expect(waiting.tasks.every((task) => task.status === 'pending')).toBe(true);
    expect(waiting.startedAt).toBeNull();
    const approved = await api(t.app).post(`/api/v1/workflows/${workflow.id}/approve`).expect(200);
    expect(['running', 'completed']).toContain(approved.body.status);
    const done = await waitForStatus(t.app, workflow.id, ['completed']);
    expect(done.result).not.toBeNull();
    const events = (await allEvents(t.app, workflow.id)).map((e) => e.type);
    expect(events).toEqual(
      expect.arrayContaining(['workflow.awaiting_approval', 'workflow.approved']),
    );
    const again = await api(t.app).post(`/api/v1/workflows/${workflow.id}/approve`);
    expect(again.status).toBe(409);
    expect(again.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(again.body.detail).toMatch(/completed/);
  });

  it('rejects a plan: the workflow is cancelled and its steps never run', async () => {
    const workflow = await submit(t.app, { request: BAKERY, requireApproval: true });
    await waitForStatus(t.app, workflow.id, ['awaiting_approval']);
    const rejected = await api(t.app).post(`/api/v1/workflows/${workflow.id}/reject`).expect(200);
    expect(rejected.body.status).toBe('cancelled');
    expect(
      rejected.body.tasks.every((task: { status: string }) => task.status === 'cancelled'),
    ).toBe(true);
    const types = (await allEvents(t.app, workflow.id)).map((e) => e.type);
    expect(types[types.length - 1]).toBe('workflow.cancelled');
    expect(types.indexOf('workflow.rejected')).toBeGreaterThan(
      types.indexOf('workflow.awaiting_approval'),
    );
    expect(types).not.toContain('task.started');
    await api(t.app).post(`/api/v1/workflows/${workflow.id}/reject`).expect(409);
    await api(t.app).post(`/api/v1/workflows/${workflow.id}/cancel`).expect(409);
  });

  it('cancels a running workflow: waiting steps are cancelled and nothing runs afterwards', async () => {
    const workflow = await submit(slow.app, { request: BAKERY });
    await waitForEvent(slow.app, workflow.id, 'task.started');
    const cancelled = await api(slow.app)
      .post(`/api/v1/workflows/${workflow.id}/cancel`)
      .expect(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect(cancelled.body.finishedAt).not.toBeNull();
    const statuses = cancelled.body.tasks.map((task: { status: string }) => task.status);
    expect(statuses).not.toContain('running');
    expect(statuses).not.toContain('queued');
    expect(statuses).not.toContain('pending');
    expect(statuses).toContain('cancelled');
    // Nothing changes afterwards: the aborted call does not complete the step.
    await new Promise((resolve) => setTimeout(resolve, 900));
    const later = await getWorkflow(slow.app, workflow.id);
    expect(later.status).toBe('cancelled');
    expect(later.tasks.map((x) => x.status)).toEqual(statuses);
    const types = (await allEvents(slow.app, workflow.id)).map((e) => e.type);
    expect(types[types.length - 1]).toBe('workflow.cancelled');
    await api(slow.app).post(`/api/v1/workflows/${workflow.id}/cancel`).expect(409);
  });

  it('refuses to retry a workflow that did not fail', async () => {
    const workflow = await submit(t.app, { request: 'Write a limerick' });
    await waitForStatus(t.app, workflow.id, ['completed']);
    const response = await api(t.app).post(`/api/v1/workflows/${workflow.id}/retry`);
    expect(response.status).toBe(409);
    expect(response.body.code).toBe('invalid_transition');
  });

  it('lists newest first with a status filter and cursor pagination', async () => {
    const created = [];
    for (let i = 0; i < 3; i += 1) created.push(await submit(t.app, { request: `List test ${i}` }));
    for (const w of created) await waitForStatus(t.app, w.id, ['completed']);
    const page1 = await api(t.app).get('/api/v1/workflows?limit=2&status=completed').expect(200);
    expect(page1.body.items).toHaveLength(2);
    expect(page1.body.items[0].id).toBe(created[2]!.id);
    expect(page1.body.items[1].id).toBe(created[1]!.id);
    expect(page1.body.nextCursor).toEqual(expect.any(String));
    const page2 = await api(t.app)
      .get(`/api/v1/workflows?limit=2&status=completed&cursor=${page1.body.nextCursor}`)
      .expect(200);
    expect(page2.body.items[0].id).toBe(created[0]!.id);
    const ids = [...page1.body.items, ...page2.body.items].map((w: { id: string }) => w.id);
    expect(new Set(ids).size).toBe(ids.length);
    const none = await api(t.app)
      .get('/api/v1/workflows?status=awaiting_approval&limit=100')
      .expect(200);
    expect(none.body.items.every((w: { status: string }) => w.status === 'awaiting_approval')).toBe(
      true,
    );
    await api(t.app).get('/api/v1/workflows?status=bogus').expect(400);
    await api(t.app).get('/api/v1/workflows?limit=101').expect(400);
  });

  it('serves tasks by id, in plan order, and as an agent history', async () => {
    const workflow = await submit(t.app, { request: BAKERY });
    const done = await waitForStatus(t.app, workflow.id, ['completed']);
    const list = await api(t.app).get(`/api/v1/workflows/${workflow.id}/tasks`).expect(200);
    expect(list.body.nextCursor).toBeNull();
    expect(list.body.items.map((task: { key: string }) => task.key)).toEqual(
      done.tasks.map((task) => task.key),
    );
    const one = await api(t.app).get(`/api/v1/tasks/${done.tasks[0]!.id}`).expect(200);
    const task = taskSchema.parse(one.body);
    expect(task.output).toBe(done.tasks[0]!.output);
    expect(task.usage.llmCalls).toBe(1);
    const history = await api(t.app)
      .get(`/api/v1/agents/${task.agentType}/tasks?limit=100`)
      .expect(200);
    expect(history.body.items.map((x: { id: string }) => x.id)).toContain(task.id);
    expect(
      history.body.items.every((x: { agentType: string }) => x.agentType === task.agentType),
    ).toBe(true);
    await api(t.app).get('/api/v1/agents/nobody/tasks').expect(404);
    await api(t.app).get('/api/v1/tasks/01a20b3c-af20-7691-8278-4cc98beda026').expect(404);
    await api(t.app).get('/api/v1/tasks/not-a-uuid').expect(400);
  });

  it('limits the plan to the agents asked for', async () => {
    const workflow = await submit(t.app, { request: BAKERY, agents: ['writer'] });
    const done = await waitForStatus(t.app, workflow.id, ['completed']);
    expect(new Set(done.tasks.map((task) => task.agentType))).toEqual(new Set(['writer']));
  });

  it('round-trips Unicode exactly', async () => {
    const text = 'Écris un poème 🍞 über Brot — 面包 — خبز ‏(rtl)‏';
    const workflow = await submit(t.app, { request: text, metadata: { note: '✓ naïve', n: 1 } });
    const read = await getWorkflow(t.app, workflow.id);
    expect(read.request).toBe(text);
    expect(read.metadata).toEqual({ note: '✓ naïve', n: 1 });
  });

  describe('bad submissions store nothing', () => {
    async function count(): Promise<number> {
      const response = await api(t.app).get('/api/v1/workflows?limit=100').expect(200);
      return response.body.items.length;
    }

    it.each([
      ['a missing request', {}, /request/],
      ['an empty request', { request: '   ' }, /request/],
      ['a wrong type', { request: 42 }, /request/],
      ['requireApproval as a string', { request: 'x', requireApproval: 'yes' }, /requireApproval/],
      ['an unknown field', { request: 'x', colour: 'blue' }, /colour/],
      ['an unknown agent', { request: 'x', agents: ['astronaut'] }, /agents\.0/],
      ['orchestrator in agents', { request: 'x', agents: ['orchestrator'] }, /agents\.0/],
      ['metadata that is not an object', { request: 'x', metadata: [1, 2] }, /metadata/],
    ])('%s → 400 naming the field', async (_name, body, field) => {
      const before = await count();
      const response = await api(t.app).post('/api/v1/workflows').send(body);
      expect(response.status).toBe(400);
      expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(JSON.stringify(response.body.errors)).toMatch(field);
      expect(await count()).toBe(before);
    });

    it('a body over the limit → 413, a wrong media type → 415, malformed JSON → 400', async () => {
      const before = await count();
      const big = await api(t.app)
        .post('/api/v1/workflows')
        .send({ request: 'x'.repeat(1_100_000) });
      expect(big.status).toBe(413);
      const text = await api(t.app)
        .post('/api/v1/workflows')
        .set('content-type', 'text/plain')
        .send('request=hello');
      expect(text.status).toBe(415);
      const broken = await api(t.app)
        .post('/api/v1/workflows')
        .set('content-type', 'application/json')
        .send('{"request": ');
      expect(broken.status).toBe(400);
      for (const r of [big, text, broken])
        expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(await count()).toBe(before);
    });

    it('a request over 20,000 characters → 400', async () => {
      const response = await api(t.app)
        .post('/api/v1/workflows')
        .send({ request: 'y'.repeat(20_001) });
      expect(response.status).toBe(400);
    });
  });

  it('answers 400 for malformed ids and 404 for unknown ones', async () => {
    for (const path of ['', '/tasks', '/events']) {
      const malformed = await api(t.app).get(`/api/v1/workflows/abc${path}`);
      expect(malformed.status).toBe(400);
      const unknown = await api(t.app).get(
        `/api/v1/workflows/01a20b3c-af20-7691-8278-4cc98beda026${path}`,
      );
      expect(unknown.status).toBe(404);
      expect(unknown.headers['content-type']).toMatch(/application\/problem\+json/);
    }
    await api(t.app).post('/api/v1/workflows/abc/cancel').expect(400);
    await api(t.app)
      .post('/api/v1/workflows/01a20b3c-af20-7691-8278-4cc98beda026/approve')
      .expect(404);
  });
});
