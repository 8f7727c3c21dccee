import type { Server } from 'node:http';
import request, { type Response } from 'supertest';
import { startTestApp, type TestApp } from '../helpers/app';
import { testConfig } from '../helpers/config';

const BUILTIN_TYPES = [
  'orchestrator',
  'researcher',
  'designer',
  'coder',
  'writer',
  'reviewer',
  'safety',
];

/** The agent shape of ARCHITECTURE §5, key for key. */
const AGENT_KEYS = [
  'id',
  'type',
  'name',
  'version',
  'status',
  'description',
  'systemPrompt',
  'model',
  'temperature',
  'maxOutputTokens',
  'createdAt',
  'updatedAt',
].sort();

const PROBLEM_KEYS = ['type', 'title', 'status', 'detail', 'code', 'requestId'];
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const BODY_LIMIT = 4096;

interface Agent {
  id: string;
  type: string;
  name: string;
  version: number;
  status: 'active' | 'disabled';
  description: string;
  systemPrompt: string;
  model: string | null;
  temperature: number | null;
  maxOutputTokens: number | null;
  createdAt: string;
  updatedAt: string;
}
interface Page {
  items: Agent[];
  nextCursor: string | null;
}
interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId: string;
  errors?: Array<{ path: string; message: string }>;
}

const agentOf = (res: Response) => res.body as Agent;
const pageOf = (res: Response) => res.body as Page;

/** Asserts an RFC 9457 answer with every member the API promises, and returns it. */
function expectProblem(res: Response, status: number, code?: string): Problem {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.body as Problem;
  for (const key of PROBLEM_KEYS) expect(body).toHaveProperty(key);
  expect(body.status).toBe(status);
  expect(typeof body.type).toBe('string');
  expect(body.title).toEqual(expect.any(String));
  expect(body.detail).toEqual(expect.any(String));
  expect(body.detail.length).toBeGreaterThan(0);
  if (code !== undefined) expect(body.code).toBe(code);
  expect(body.requestId).toBe(res.headers['x-request-id']);
  return body;
}

function expectAgentShape(agent: Agent): void {
  expect(Object.keys(agent).sort()).toEqual(AGENT_KEYS);
  expect(agent.id).toMatch(UUID_V7);
  expect(agent.type).toMatch(/^[a-z][a-z0-9_-]+$/);
  expect(agent.name).toEqual(expect.any(String));
  expect(Number.isInteger(agent.version) && agent.version >= 1).toBe(true);
  expect(['active', 'disabled']).toContain(agent.status);
  expect(typeof agent.description).toBe('string');
  expect(typeof agent.systemPrompt).toBe('string');
  expect(agent.model === null || typeof agent.model === 'string').toBe(true);
  expect(agent.temperature === null || typeof agent.temperature === 'number').toBe(true);
  expect(agent.maxOutputTokens === null || Number.isInteger(agent.maxOutputTokens)).toBe(true);
  expect(agent.createdAt).toMatch(ISO_UTC);
  expect(agent.updatedAt).toMatch(ISO_UTC);
}

const newAgent = (type: string, extra: Record<string, unknown> = {}) => ({
  type,
  name: `Agent ${type}`,
  description: `Does ${type} things`,
  systemPrompt: `You are the ${type} agent.`,
  ...extra,
});

describe('agents API (/api/v1/agents)', () => {
  let testApp: TestApp;
  let server: Server;

  beforeAll(async () => {
    testApp = await startTestApp(testConfig({ BODY_LIMIT_BYTES: String(BODY_LIMIT) }));
    server = testApp.app.getHttpServer();
  });

  afterAll(async () => {
    await testApp?.close();
  });

  const api = () => request(server);

  async function listAll(query = ''): Promise<Agent[]> {
    const items: Agent[] = [];
    let cursor: string | null = null;
    for (let guard = 0; guard < 50; guard++) {
      const url: string = `/api/v1/agents?limit=100${query}${cursor === null ? '' : `&cursor=${cursor}`}`;
      const res = await api().get(url).expect(200);
      items.push(...pageOf(res).items);
      cursor = pageOf(res).nextCursor;
      if (cursor === null) return items;
    }
    throw new Error('pagination never ended');
  }

  describe('list', () => {
    it('answers {items, nextCursor} with the seven built-ins in the contract shape', async () => {
      const res = await api().get('/api/v1/agents').expect(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(Object.keys(res.body as object).sort()).toEqual(['items', 'nextCursor']);
      const page = pageOf(res);
      expect(page.nextCursor).toBeNull();
      expect(page.items.map((a) => a.type)).toEqual(BUILTIN_TYPES);
      for (const agent of page.items) {
        expectAgentShape(agent);
        expect(agent.status).toBe('active');
        expect(agent.version).toBe(1);
        expect(agent.name.length).toBeGreaterThan(0);
        expect(agent.description.length).toBeGreaterThan(0);
        // The built-ins' prompts are the product's voice: more than a placeholder.
        expect(agent.systemPrompt.length).toBeGreaterThan(100);
      }
      expect(new Set(page.items.map((a) => a.id)).size).toBe(7);
    });

    it('pages with limit and cursor: every agent once, in order, no duplicates', async () => {
      const all = pageOf(await api().get('/api/v1/agents?limit=100').expect(200)).items;
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const url: string = `/api/v1/agents?limit=2${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
        const page = pageOf(await api().get(url).expect(200));
        expect(page.items.length).toBeLessThanOrEqual(2);
        expect(page.items.length).toBeGreaterThan(0);
        seen.push(...page.items.map((a) => a.id));
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor !== null && pages < 20);
      expect(cursor).toBeNull();
      expect(pages).toBe(Math.ceil(all.length / 2));
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual(all.map((a) => a.id));
    });

    it('an exact last page has no further cursor', async () => {
      const total = pageOf(await api().get('/api/v1/agents?limit=100').expect(200)).items.length;
      const page = pageOf(await api().get(`/api/v1/agents?limit=${total}`).expect(200));
      expect(page.items).toHaveLength(total);
      expect(page.nextCursor).toBeNull();
    });

    it.each([
      ['a made-up cursor', 'cursor=not-a-real-cursor!', 'cursor'],
      ['a tampered cursor', 'cursor=YQ', 'cursor'],
      ['limit 0', 'limit=0', 'limit'],
      ['limit 101', 'limit=101', 'limit'],
      ['a non-numeric limit', 'limit=ten', 'limit'],
      ['an unknown status', 'status=sleeping', 'status'],
      ['an unknown parameter', 'colour=red', 'colour'],
    ])('rejects %s with 400 naming the parameter', async (_label, query, field) => {
      const res = await api().get(`/api/v1/agents?${query}`);
      const problem = expectProblem(res, 400, 'validation_failed');
      if (field === 'cursor') expect(problem.detail).toMatch(/cursor/);
      else expect((problem.errors ?? []).map((e) => e.path)).toContain(field);
    });
  });

  describe('create and read', () => {
    it('creates an agent (201) that is then readable and listed', async () => {
      const body = newAgent('translator', {
        model: 'openai:gpt-4o-mini',
        temperature: 0.4,
        maxOutputTokens: 800,
      });
      const res = await api().post('/api/v1/agents').send(body).expect(201);
      const created = agentOf(res);
      expectAgentShape(created);
      expect(created).toMatchObject({ ...body, version: 1, status: 'active' });
      expect(created.createdAt).toBe(created.updatedAt);

      const read = agentOf(await api().get('/api/v1/agents/translator').expect(200));
      expect(read).toEqual(created);
      const all = await listAll();
      expect(all.map((a) => a.type)).toContain('translator');
      // Newest last: the list is oldest first.
      expect(all[all.length - 1]?.type).toBe('translator');
    });

    it('fills optional fields with their defaults (null, empty description)', async () => {
      const created = agentOf(
        await api()
          .post('/api/v1/agents')
          .send({ type: 'minimal', name: 'Minimal', systemPrompt: 'Be brief.' })
          .expect(201),
      );
      expect(created).toMatchObject({
        description: '',
        model: null,
        temperature: null,
        maxOutputTokens: null,
      });
    });

    it('a duplicate type answers 409 problem+json and changes nothing', async () => {
      const before = agentOf(await api().get('/api/v1/agents/researcher').expect(200));
      const res = await api().post('/api/v1/agents').send(newAgent('researcher'));
      const problem = expectProblem(res, 409, 'conflict');
      expect(problem.detail).toContain('researcher');
      expect(agentOf(await api().get('/api/v1/agents/researcher').expect(200))).toEqual(before);
    });

    it('round-trips emoji, CJK and right-to-left text exactly', async () => {
      const text = {
        name: 'Ли 🤖 エージェント 代理人',
        description: 'مرحبا بالعالم — שלום עולם — 👩🏽‍💻 combining: é (e\u0301) zero-width:\u200d',
        systemPrompt: '你是一个乐于助人的助手。\nRespond in 日本語 when asked. 🚀✨\n\tעברית',
      };
      const created = agentOf(
        await api().post('/api/v1/agents').send(newAgent('polyglot', text)).expect(201),
      );
      expect(created).toMatchObject(text);
      const read = agentOf(await api().get('/api/v1/agents/polyglot').expect(200));
      expect(read.name).toBe(text.name);
      expect(read.description).toBe(text.description);
      expect(read.systemPrompt).toBe(text.systemPrompt);

      const patchedName = '🦄 ユニコーン عربى';
      const patched = agentOf(
        await api().patch('/api/v1/agents/polyglot').send({ name: patchedName }).expect(200),
      );
      expect(patched.name).toBe(patchedName);
    });
  });

  describe('patch', () => {
    it('changes the given fields only and bumps the version', async () => {
      const before = agentOf(await api().get('/api/v1/agents/writer').expect(200));
      const res = await api()
        .patch('/api/v1/agents/writer')
        .send({ description: 'Writes tighter copy', temperature: 0.5, model: 'anthropic:claude-x' })
        .expect(200);
      const after = agentOf(res);
      expectAgentShape(after);
      expect(after).toMatchObject({
        id: before.id,
        type: 'writer',
        name: before.name,
        systemPrompt: before.systemPrompt,
        description: 'Writes tighter copy',
        temperature: 0.5,
        model: 'anthropic:claude-x',
        version: before.version + 1,
        createdAt: before.createdAt,
      });
      expect(after.updatedAt >= before.updatedAt).toBe(true);

      const again = agentOf(
        await api().patch('/api/v1/agents/writer').send({ model: null }).expect(200),
      );
      expect(again.model).toBeNull();
      expect(again.version).toBe(before.version + 2);
      expect(agentOf(await api().get('/api/v1/agents/writer').expect(200))).toEqual(again);
    });

    it('an empty patch answers 400 and changes nothing', async () => {
      const before = agentOf(await api().get('/api/v1/agents/coder').expect(200));
      expectProblem(await api().patch('/api/v1/agents/coder').send({}), 400, 'validation_failed');
      expect(agentOf(await api().get('/api/v1/agents/coder').expect(200))).toEqual(before);
    });

    it('rejects an attempt to change the type or id', async () => {
      const res = await api().patch('/api/v1/agents/coder').send({ type: 'hacker', id: 'x' });
      const problem = expectProblem(res, 400, 'validation_failed');
      expect((problem.errors ?? []).map((e) => e.path).sort()).toEqual(['id', 'type']);
    });

    it('cannot disable the orchestrator or safety agent through patch either', async () => {
      for (const type of ['orchestrator', 'safety']) {
        expectProblem(
          await api().patch(`/api/v1/agents/${type}`).send({ status: 'disabled' }),
          409,
          'conflict',
        );
      }
    });
  });

  describe('delete (disable)', () => {
    it('disables the agent: still readable, listed under status=disabled, history kept', async () => {
      const before = agentOf(await api().get('/api/v1/agents/designer').expect(200));
      const disabled = agentOf(await api().delete('/api/v1/agents/designer').expect(200));
      expectAgentShape(disabled);
      expect(disabled).toMatchObject({
        id: before.id,
        status: 'disabled',
        version: before.version + 1,
        systemPrompt: before.systemPrompt,
      });
      expect(agentOf(await api().get('/api/v1/agents/designer').expect(200)).status).toBe(
        'disabled',
      );

      // Disabling again is harmless and does not bump the version.
      const twice = agentOf(await api().delete('/api/v1/agents/designer').expect(200));
      expect(twice.version).toBe(disabled.version);

      const disabledList = await listAll('&status=disabled');
      expect(disabledList.map((a) => a.type)).toEqual(['designer']);
      const activeList = await listAll('&status=active');
      expect(activeList.map((a) => a.type)).not.toContain('designer');
      expect(activeList.every((a) => a.status === 'active')).toBe(true);
      const everything = await listAll();
      expect(everything.map((a) => a.type)).toContain('designer');
      expect(everything.length).toBe(activeList.length + disabledList.length);

      // It can be re-enabled.
      const enabled = agentOf(
        await api().patch('/api/v1/agents/designer').send({ status: 'active' }).expect(200),
      );
      expect(enabled.status).toBe('active');
    });

    it.each(['orchestrator', 'safety'])('refuses to disable %s (409)', async (type) => {
      const problem = expectProblem(await api().delete(`/api/v1/agents/${type}`), 409, 'conflict');
      expect(problem.detail).toContain(type);
      expect(agentOf(await api().get(`/api/v1/agents/${type}`).expect(200)).status).toBe('active');
    });
  });

  describe('unknown agents and routes', () => {
    it.each([
      ['GET', () => api().get('/api/v1/agents/ghost')],
      ['PATCH', () => api().patch('/api/v1/agents/ghost').send({ name: 'Boo' })],
      ['DELETE', () => api().delete('/api/v1/agents/ghost')],
    ])('%s of an unknown agent answers 404 problem+json', async (_method, call) => {
      const problem = expectProblem(await call(), 404, 'not_found');
      expect(problem.detail).toContain('ghost');
    });

    it('an invalid type in the path answers 400, not 404 or 500', async () => {
      expectProblem(await api().get('/api/v1/agents/NOT%20A%20TYPE'), 400, 'validation_failed');
    });

    it.each([
      ['GET', '/api/v1/nothing-here'],
      ['GET', '/api/v2/agents'],
      ['POST', '/api/v1/agents/researcher/oops'],
      ['GET', '/'],
    ])('%s %s answers 404 problem+json', async (method, url) => {
      const res = await api()[method === 'GET' ? 'get' : 'post'](url);
      expectProblem(res, 404, 'not_found');
    });

    it('a method the route does not have answers a 4xx problem, not 500', async () => {
      const res = await api().put('/api/v1/agents/researcher').send({ name: 'x' });
      expect([404, 405]).toContain(res.status);
      expectProblem(res, res.status);
    });
  });

  describe('invalid input', () => {
    it('names every bad field: missing, wrong type, out of range, unknown', async () => {
      const res = await api()
        .post('/api/v1/agents')
        .send({
          type: 'Not A Slug!',
          name: 42,
          temperature: 'hot',
          maxOutputTokens: -5,
          model: 'gpt-4',
          colour: 'blue',
          nested: { a: 1 },
        });
      const problem = expectProblem(res, 400, 'validation_failed');
      const paths = (problem.errors ?? []).map((e) => e.path).sort();
      expect(paths).toEqual(
        [
          'type',
          'name',
          'systemPrompt',
          'temperature',
          'maxOutputTokens',
          'model',
          'colour',
          'nested',
        ].sort(),
      );
      for (const error of problem.errors ?? []) expect(error.message.length).toBeGreaterThan(0);
    });

    it.each([
      ['an array', [newAgent('arr')]],
      ['a string', 'just text'],
      ['null', null],
      ['a number', 42],
    ])('a JSON body that is %s answers 400 problem+json', async (_label, body) => {
      const res = await api()
        .post('/api/v1/agents')
        .set('content-type', 'application/json')
        .send(JSON.stringify(body));
      expectProblem(res, 400);
    });

    it('rejects blank required text and too-long fields', async () => {
      const res = await api()
        .post('/api/v1/agents')
        .send(newAgent('blanky', { name: '   ', systemPrompt: '', description: 'x'.repeat(2001) }));
      const problem = expectProblem(res, 400, 'validation_failed');
      expect((problem.errors ?? []).map((e) => e.path).sort()).toEqual([
        'description',
        'name',
        'systemPrompt',
      ]);
    });

    it('an invalid patch names every bad field', async () => {
      const res = await api()
        .patch('/api/v1/agents/reviewer')
        .send({ temperature: 3, status: 'sleepy', maxOutputTokens: 1.5 });
      const problem = expectProblem(res, 400, 'validation_failed');
      expect((problem.errors ?? []).map((e) => e.path).sort()).toEqual([
        'maxOutputTokens',
        'status',
        'temperature',
      ]);
    });

    it.each([
      ['truncated JSON', '{"type": "broken", "name": '],
      ['a trailing comma', '{"type": "broken",}'],
      ['single quotes', "{'type': 'broken'}"],
    ])('malformed JSON (%s) answers 400 problem+json', async (_label, raw) => {
      const res = await api()
        .post('/api/v1/agents')
        .set('content-type', 'application/json')
        .send(raw);
      expectProblem(res, 400);
    });

    it('an empty JSON body answers 400 problem+json', async () => {
      const res = await api().post('/api/v1/agents').set('content-type', 'application/json');
      expectProblem(res, 400);
    });

    it.each([
      ['text/plain', 'type=x'],
      ['application/xml', '<agent/>'],
    ])('a %s body answers 415 problem+json', async (contentType, raw) => {
      const res = await api().post('/api/v1/agents').set('content-type', contentType).send(raw);
      expectProblem(res, 415);
    });

    it('a application/x-www-form-urlencoded body answers 415 problem+json and creates nothing', async () => {
      const res = await api()
        .post('/api/v1/agents')
        .set('content-type', 'application/x-www-form-urlencoded')
        .send('type=formagent&name=Form&systemPrompt=hi');
      expectProblem(res, 415);
      await api().get('/api/v1/agents/formagent').expect(404);
    });

    it('a body over BODY_LIMIT_BYTES answers 413 problem+json', async () => {
      const res = await api()
        .post('/api/v1/agents')
        .send(newAgent('huge', { systemPrompt: 'x'.repeat(BODY_LIMIT * 2) }));
      expectProblem(res, 413);
      expectProblem(await api().get('/api/v1/agents/huge'), 404, 'not_found');
    });

    it('a body just under the limit is accepted', async () => {
      const overhead = JSON.stringify(newAgent('roomy', { systemPrompt: '' })).length;
      const res = await api()
        .post('/api/v1/agents')
        .send(newAgent('roomy', { systemPrompt: 'y'.repeat(BODY_LIMIT - overhead - 10) }));
      expect(res.status).toBe(201);
    });
  });

  describe('request ids', () => {
    it.each([
      ['a list', () => api().get('/api/v1/agents')],
      ['a 404 route', () => api().get('/nope')],
      ['a 400', () => api().patch('/api/v1/agents/coder').send({})],
      ['malformed JSON', () => api().post('/api/v1/agents').type('json').send('{')],
      ['a 415', () => api().post('/api/v1/agents').type('text').send('x')],
      ['health', () => api().get('/health/live')],
    ])('every response carries x-request-id (%s)', async (_label, call) => {
      const res = await call();
      expect(res.headers['x-request-id']).toEqual(expect.any(String));
      expect((res.headers['x-request-id'] as string).length).toBeGreaterThan(0);
    });

    it('generates a different id for each request', async () => {
      const a = await api().get('/api/v1/agents?limit=1');
      const b = await api().get('/api/v1/agents?limit=1');
      expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
    });

    it.each(['trace-abc-123', '0192f3a4-7b1c-7000-8000-000000000001', 'svc.gateway:42/x=1'])(
      'echoes a sane incoming id (%s), also in problem bodies',
      async (id) => {
        const ok = await api().get('/api/v1/agents').set('x-request-id', id).expect(200);
        expect(ok.headers['x-request-id']).toBe(id);
        const failed = await api().get('/api/v1/agents/ghost').set('x-request-id', id);
        expect(expectProblem(failed, 404).requestId).toBe(id);
      },
    );

    it.each([
      ['too long', 'a'.repeat(500)],
      ['with spaces', 'has spaces in it'],
      ['with markup', '<script>alert(1)</script>'],
      ['with quotes and semicolons', '"x";drop table agents'],
      ['non-ASCII', 'ид-запроса'],
    ])('replaces an insane incoming id (%s)', async (_label, id) => {
      // Node refuses to send non-ASCII header bytes, so those arrive as '?'.
      const sent = id.replace(/[^\x20-\x7e]/g, '?');
      const res = await api().get('/api/v1/agents/ghost').set('x-request-id', sent);
      const echoed = res.headers['x-request-id'] as string;
      expect(echoed).not.toBe(sent);
      expect(echoed).toMatch(/^[\w.:@/+=-]{1,128}$/);
      expect(expectProblem(res, 404).requestId).toBe(echoed);
    });
  });
});
