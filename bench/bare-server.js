'use strict';
// The bare stack the product is measured against: Fastify 5 + better-sqlite3, no Nest, no
// logging, no validation library. It runs the same queries as the product's routes with
// prepared statements, on a copy of the same database file, and answers the same JSON shapes.
//
//   PORT=... DATABASE_PATH=... node bench/bare-server.js

const Database = require('better-sqlite3');
const { randomUUID } = require('node:crypto');
const fastify = require('fastify');

const port = Number(process.env.PORT ?? 3999);
const db = new Database(process.env.DATABASE_PATH ?? './bare.db', { timeout: 5000 });
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = ON');

const workflowById = db.prepare('SELECT * FROM workflows WHERE id = ?');
const tasksByWorkflow = db.prepare(
  'SELECT * FROM tasks WHERE workflow_id = ? ORDER BY position ASC',
);
const usageByWorkflow = db.prepare(
  `SELECT task_id, count(*) AS calls, coalesce(sum(input_tokens), 0) AS input,
          coalesce(sum(output_tokens), 0) AS output
     FROM llm_calls WHERE workflow_id = ? GROUP BY task_id`,
);
const agentByType = db.prepare('SELECT * FROM agents WHERE type = ?');
const insertWorkflow = db.prepare(
  `INSERT INTO workflows (id, user_request, status, require_approval, created_at, updated_at)
   VALUES (?, ?, 'pending', 0, ?, ?)`,
);
const insertEvent = db.prepare(
  `INSERT INTO workflow_events (workflow_id, task_id, type, message, data, created_at)
   VALUES (?, NULL, 'workflow.created', 'Workflow submitted', ?, ?)`,
);
const submitTx = db.transaction((id, request, now) => {
  insertWorkflow.run(id, request, now, now);
  insertEvent.run(id, JSON.stringify({ requireApproval: false, agents: null }), now);
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const json = (text) => (text === null ? null : JSON.parse(text));
const zero = { llmCalls: 0, inputTokens: 0, outputTokens: 0 };

function toWorkflow(row, usage) {
  return {
    id: row.id,
    request: row.user_request,
    status: row.status,
    requireApproval: row.require_approval === 1,
    plan: json(row.plan),
    result: json(row.result),
    error: json(row.error),
    metadata: json(row.metadata),
    usage,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

function detail(id) {
  const row = workflowById.get(id);
  if (row === undefined) return undefined;
  const total = { ...zero };
  const byTask = new Map();
  for (const u of usageByWorkflow.all(id)) {
    const usage = { llmCalls: u.calls, inputTokens: u.input, outputTokens: u.output };
    total.llmCalls += u.calls;
    total.inputTokens += u.input;
    total.outputTokens += u.output;
    if (u.task_id !== null) byTask.set(u.task_id, usage);
  }
  return {
    ...toWorkflow(row, total),
    tasks: tasksByWorkflow.all(id).map((t) => ({
      id: t.id,
      workflowId: t.workflow_id,
      key: t.key,
      title: t.title,
      agentType: t.agent_type,
      input: t.input,
      output: t.output,
      status: t.status,
      dependsOn: json(t.depends_on),
      attempts: t.attempts,
      error: json(t.error),
      usage: byTask.get(t.id) ?? zero,
      createdAt: t.created_at,
      startedAt: t.started_at,
      finishedAt: t.finished_at,
    })),
  };
}

const app = fastify({ logger: false });

app.get('/health/ready', async () => ({ status: 'ok' }));

app.get('/api/v1/workflows/:id', async (request, reply) => {
  const { id } = request.params;
  if (!UUID.test(id)) return reply.code(400).send({ title: 'Bad Request', status: 400 });
  const body = detail(id);
  if (body === undefined) return reply.code(404).send({ title: 'Not Found', status: 404 });
  return body;
});

app.get('/api/v1/agents/:type', async (request, reply) => {
  const row = agentByType.get(request.params.type);
  if (row === undefined) return reply.code(404).send({ title: 'Not Found', status: 404 });
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    version: row.version,
    status: row.status,
    description: row.description,
    systemPrompt: row.system_prompt,
    model: row.model,
    temperature: row.temperature,
    maxOutputTokens: row.max_output_tokens,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
});

// The accept path without a queue: store the workflow and its first event in one transaction.
app.post('/api/v1/workflows', async (request, reply) => {
  const body = request.body;
  if (body === null || typeof body !== 'object' || typeof body.request !== 'string') {
    return reply.code(400).send({ title: 'Bad Request', status: 400 });
  }
  const id = randomUUID();
  submitTx(id, body.request, new Date().toISOString());
  return reply.code(202).header('location', `/api/v1/workflows/${id}`).send(detail(id));
});

app.listen({ host: '127.0.0.1', port }).then(
  () => process.stdout.write(`bare server listening on ${port}\n`),
  (error) => {
    process.stderr.write(`bare server failed: ${String(error)}\n`);
    process.exit(1);
  },
);
process.on('SIGTERM', () => {
  void app.close().then(() => {
    db.close();
    process.exit(0);
  });
});
