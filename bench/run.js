'use strict';
// `npm run bench`: the product and the bare stack side by side, in one run on this machine.
// Builds the product, starts a private Redis, measures HTTP overhead, orchestration throughput
// and start-up/memory, writes bench/RESULTS.md and prints a summary. Loopback traffic only;
// every phase is bounded in count and time.
//
//   node bench/run.js [--only=startup,http,orch] [--quick] [--no-build] [--json=path]
//                     [--cpu-prof=dir]   (adds --cpu-prof to the product's processes)
//                     [--dist=dir]       (measure another build, e.g. a copy of an older dist/;
//                                         implies --no-build; the report goes to a temp file)
//                     [--node-flags="..."] (Node/V8 flags for the API and workers instead of the
//                                         ones in package.json's start/worker scripts; none: no flags)

const { execFileSync, execSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const autocannon = require('autocannon');
const Database = require('better-sqlite3');
const u = require('./util');
const { writeReport } = require('./report');

const args = new Map(
  process.argv.slice(2).map((a) => {
    const arg = a.replace(/^--/, '');
    const eq = arg.indexOf('=');
    return eq === -1 ? [arg, 'true'] : [arg.slice(0, eq), arg.slice(eq + 1)];
  }),
);
const QUICK = args.has('quick');
const ONLY = new Set((args.get('only') ?? 'startup,http,orch').split(','));
const CPU_PROF = args.get('cpu-prof');
const DIST = args.has('dist') ? path.resolve(args.get('dist')) : path.join(u.ROOT, 'dist');
const BENCH_DEADLINE_MS = 15 * 60_000;

/** The memory figure is taken once this many workflows ran (issue 7: "after a run of 1,000"). */
const MEMORY_AFTER = 1000;

const REQUEST = (n) => `Build a landing page for bakery no. ${n} and write its launch announcement`;

// The raw BullMQ warm-up runs as many jobs as the product's warm-up: 7 per workflow (plan, 5
// steps, finalize).
const cfg = QUICK
  ? {
      httpRuns: 3,
      httpSecs: 1,
      warmSecs: 1,
      submitReqs: 200,
      orchN: 60,
      orchRuns: 2,
      orchWarmup: 120,
      rawWarmup: 840,
      idleN: 10,
      startRuns: 3,
    }
  : {
      httpRuns: 5,
      httpSecs: 2,
      warmSecs: 2,
      submitReqs: 400,
      orchN: 200,
      orchRuns: 7,
      orchWarmup: 4000,
      rawWarmup: 28000,
      idleN: 30,
      startRuns: 5,
    };

let tmp;
let redis;
let redisUrl;

function log(line) {
  process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

// ------------------------------------------------------------------ processes

/**
 * The Node/V8 flags of the product's own start command (package.json's "start" for main.js,
 * "worker" for worker.js; the Dockerfile and docker-compose.yml use the same), so the product runs
 * as deployed. `--node-flags="..."` replaces them (`none`: no flags), e.g. to measure their effect.
 */
function startFlags(script) {
  if (args.has('node-flags')) {
    const given = args.get('node-flags');
    return given === 'none' ? [] : given.split(/\s+/).filter((w) => w !== '');
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(u.ROOT, 'package.json'), 'utf8'));
  const command = pkg.scripts[script === 'main.js' ? 'start' : 'worker'] ?? '';
  return command.split(/\s+/).filter((w) => w.startsWith('--'));
}

function nodeArgs(script) {
  const prof =
    CPU_PROF === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${path.resolve(CPU_PROF)}`];
  return [...startFlags(script), ...prof, path.join(DIST, script)];
}

function productEnv(extra) {
  return {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    RATE_LIMIT_PER_MINUTE: '0',
    OFFLINE_LATENCY_MS: '0',
    BACKUP_ON_SHUTDOWN: 'false',
    BACKUP_DIR: path.join(tmp, 'backups'),
    ...extra,
  };
}

/** Starts the API; resolves when /health/ready answers 200, with the time it took. */
async function startApi(name, env) {
  const port = await u.freePort();
  const since = process.hrtime.bigint();
  // Production logging stays on: pino writes its JSON lines to stdout, which goes to /dev/null.
  const child = u.start(process.execPath, nodeArgs('main.js'), {
    cwd: tmp,
    env: productEnv({ PORT: String(port), ...env }),
  });
  const readyMs = await u.waitHttpReady(port, '/health/ready', since, child);
  return { name, child, port, readyMs };
}

/** Starts a worker; resolves when it logs that it processes jobs. */
async function startWorker(env) {
  const since = process.hrtime.bigint();
  let resolveReady;
  const ready = new Promise((resolve) => (resolveReady = resolve));
  let seen = '';
  const child = u.start(process.execPath, nodeArgs('worker.js'), {
    cwd: tmp,
    env: productEnv(env),
    watch: (text) => {
      if (seen !== undefined) {
        seen += text;
        if (seen.includes('"processing jobs"')) {
          seen = undefined;
          resolveReady(Number(process.hrtime.bigint() - since) / 1e6);
        }
      }
    },
  });
  const readyMs = await Promise.race([
    ready,
    child.exited.then(() => Promise.reject(new Error('worker exited before it was ready'))),
    u.sleep(30_000).then(() => Promise.reject(new Error('worker not ready in 30 s'))),
  ]);
  return { child, readyMs };
}

async function startRedis() {
  const port = await u.freePort();
  const child = u.start(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {},
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const out = execFileSync('redis-cli', ['-p', String(port), 'ping'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      if (out.trim() === 'PONG') break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error('private redis-server did not start');
    await u.sleep(50);
  }
  return { child, url: `redis://127.0.0.1:${port}` };
}

// ------------------------------------------------------------------ database helpers

function openRead(file) {
  return new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 });
}

/** Waits until no workflow in the database is unfinished. */
async function waitIdle(file, timeoutMs = 180_000) {
  const db = openRead(file);
  const open = db.prepare(
    `SELECT count(*) AS n FROM workflows WHERE status NOT IN ('completed','failed','cancelled')`,
  );
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (open.get().n === 0) return;
      if (Date.now() > deadline) throw new Error(`workflows still unfinished in ${file}`);
      await u.sleep(10);
    }
  } finally {
    db.close();
  }
}

/** Submits `n` workflows with `inFlight` requests at a time; returns their ids. */
async function submitMany(port, n, offset, inFlight = 16) {
  const ids = [];
  let next = 0;
  async function lane() {
    while (next < n) {
      const i = next;
      next += 1;
      const res = await u.request(port, 'POST', '/api/v1/workflows', {
        request: REQUEST(offset + i),
      });
      // 202, or 200 when the workflow already finished by the time the answer was written.
      if ((res.status !== 202 && res.status !== 200) || typeof res.body?.id !== 'string')
        throw new Error(`submit answered ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
      ids.push(res.body.id);
    }
  }
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, lane));
  return ids;
}

/** Steps, jobs and hand-offs of the given workflows, from the stored tasks and events. */
function orchestrationFigures(file, ids, startedAtMs) {
  const db = openRead(file);
  try {
    const workflowsQ = db.prepare('SELECT status, finished_at FROM workflows WHERE id = ?');
    const tasksQ = db.prepare(
      'SELECT id, key, depends_on, status FROM tasks WHERE workflow_id = ?',
    );
    const eventsQ = db.prepare(
      `SELECT task_id, type, created_at FROM workflow_events
        WHERE workflow_id = ? AND type IN ('task.started','task.completed') ORDER BY id`,
    );
    let steps = 0;
    let completed = 0;
    let lastFinish = 0;
    const handoffs = [];
    for (const id of ids) {
      const w = workflowsQ.get(id);
      if (w.status === 'completed') completed += 1;
      lastFinish = Math.max(lastFinish, Date.parse(w.finished_at));
      const tasks = tasksQ.all(id);
      steps += tasks.filter((t) => t.status === 'completed').length;
      const started = new Map();
      const done = new Map();
      for (const e of eventsQ.all(id)) {
        const at = Date.parse(e.created_at);
        if (e.type === 'task.started' && !started.has(e.task_id)) started.set(e.task_id, at);
        if (e.type === 'task.completed') done.set(e.task_id, at);
      }
      const byKey = new Map(tasks.map((t) => [t.key, t]));
      for (const t of tasks) {
        const deps = JSON.parse(t.depends_on);
        if (deps.length === 0 || !started.has(t.id)) continue;
        const ready = Math.max(...deps.map((k) => done.get(byKey.get(k).id)));
        handoffs.push(started.get(t.id) - ready);
      }
    }
    const wallMs = lastFinish - startedAtMs;
    return {
      workflows: ids.length,
      completed,
      steps,
      jobs: steps + 2 * ids.length,
      wallMs,
      stepsPerSec: (steps * 1000) / wallMs,
      jobsPerSec: ((steps + 2 * ids.length) * 1000) / wallMs,
      handoff: u.percentiles(handoffs),
    };
  } finally {
    db.close();
  }
}

// ------------------------------------------------------------------ load generation

/** autocannon against one route; latencies are taken per response (sub-millisecond). */
function cannon(port, route, connections, seconds, amount, pid) {
  return new Promise((resolve, reject) => {
    const latencies = [];
    const began = process.hrtime.bigint();
    const cpuBefore = pid === undefined ? 0 : u.cpuMs(pid);
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${port}${route.path}`,
        method: route.method,
        body: route.body,
        headers: route.body === undefined ? {} : { 'content-type': 'application/json' },
        connections,
        ...(amount === undefined ? { duration: seconds } : { amount }),
        timeout: 10,
      },
      (error, result) => {
        if (error) return reject(error);
        const ok = result['2xx'];
        if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
          return reject(
            new Error(
              `${route.path}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`,
            ),
          );
        }
        const p = u.percentiles(latencies);
        const seconds = Number(process.hrtime.bigint() - began) / 1e9;
        // Server CPU per request: steadier than req/s on a machine shared with other work.
        const cpuUs = pid === undefined ? NaN : ((u.cpuMs(pid) - cpuBefore) * 1000) / ok;
        resolve({ rps: ok / seconds, p50: p.p50, p99: p.p99, cpuUs, requests: ok });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode < 300) latencies.push(responseTime);
    });
  });
}

// ------------------------------------------------------------------ phases

async function benchStartup() {
  log('start-up and memory');
  const db = path.join(tmp, 'startup.db');
  const out = { api: [], worker: [], help: [], cliRun: [] };
  const prefix = `bench-start-${process.pid}`;
  for (let i = 0; i <= cfg.startRuns; i += 1) {
    const api = await startApi('api', { DATABASE_PATH: db });
    await u.sleep(300);
    const apiRss = u.rssMb(api.child.pid);
    await u.stop(api.child);
    const worker = await startWorker({
      DATABASE_PATH: db,
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
    });
    await u.sleep(300);
    const workerRss = u.rssMb(worker.child.pid);
    await u.stop(worker.child);
    if (i === 0) continue; // warm-up: creates and migrates the database, warms the file cache
    out.api.push({ readyMs: api.readyMs, rssMb: apiRss });
    out.worker.push({ readyMs: worker.readyMs, rssMb: workerRss });
  }
  const cli = path.join(DIST, 'cli.js');
  const cliDb = path.join(tmp, 'cli.db');
  // stderr goes to a file (the CLI then keeps its logs quiet, as with `2>file`): the CLI reopens
  // /dev/stderr by name, which fails with ENXIO when stderr is a socket (Node's default pipe).
  const cliErr = fs.openSync(path.join(tmp, 'cli-stderr.log'), 'a');
  for (let i = 0; i <= cfg.startRuns; i += 1) {
    let t = process.hrtime.bigint();
    execFileSync(process.execPath, [cli, '--help'], { cwd: tmp, stdio: 'pipe' });
    const helpMs = Number(process.hrtime.bigint() - t) / 1e6;
    t = process.hrtime.bigint();
    const json = execFileSync(process.execPath, [cli, 'run', REQUEST(i), '--json'], {
      cwd: tmp,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...productEnv({ DATABASE_PATH: cliDb }),
      },
      stdio: ['ignore', 'pipe', cliErr],
      encoding: 'utf8',
      timeout: 60_000,
    });
    const runMs = Number(process.hrtime.bigint() - t) / 1e6;
    const result = JSON.parse(json);
    if (result.status !== 'completed') throw new Error(`broski run ended ${result.status}`);
    if (i === 0) continue;
    out.help.push(helpMs);
    out.cliRun.push(runMs);
  }
  return {
    apiReadyMs: u.summary(out.api.map((r) => r.readyMs)),
    apiRssMb: u.summary(out.api.map((r) => r.rssMb)),
    workerReadyMs: u.summary(out.worker.map((r) => r.readyMs)),
    workerRssMb: u.summary(out.worker.map((r) => r.rssMb)),
    helpMs: u.summary(out.help),
    cliRunMs: u.summary(out.cliRun),
  };
}

async function benchHttp() {
  log('HTTP overhead: seeding the database through the product');
  const productDb = path.join(tmp, 'http-product.db');
  const bareDb = path.join(tmp, 'http-bare.db');
  const seeder = await startApi('seed', { DATABASE_PATH: productDb });
  const ids = await submitMany(seeder.port, 20, 0, 4);
  await waitIdle(productDb);
  await u.stop(seeder.child);
  for (const suffix of ['', '-wal', '-shm']) {
    if (fs.existsSync(productDb + suffix)) fs.copyFileSync(productDb + suffix, bareDb + suffix);
  }
  const workflowId = ids[ids.length - 1];

  const product = await startApi('product', { DATABASE_PATH: productDb });
  const barePort = await u.freePort();
  const bare = u.start(process.execPath, [path.join(__dirname, 'bare-server.js')], {
    env: { PORT: String(barePort), DATABASE_PATH: bareDb },
  });
  await u.waitHttpReady(barePort, '/health/ready', process.hrtime.bigint(), bare);

  // Both servers answer the same shape for the same row.
  const a = await u.request(product.port, 'GET', `/api/v1/workflows/${workflowId}`);
  const b = await u.request(barePort, 'GET', `/api/v1/workflows/${workflowId}`);
  if (a.status !== 200 || b.status !== 200 || a.body.tasks.length !== b.body.tasks.length) {
    throw new Error('product and bare server disagree on GET /workflows/:id');
  }
  const responseBytes = Buffer.byteLength(JSON.stringify(a.body));

  const routes = [
    {
      key: 'workflow',
      label: 'GET /api/v1/workflows/:id',
      method: 'GET',
      path: `/api/v1/workflows/${workflowId}`,
    },
    {
      key: 'agent',
      label: 'GET /api/v1/agents/:type',
      method: 'GET',
      path: '/api/v1/agents/researcher',
    },
  ];
  const servers = [
    { key: 'product', port: product.port, pid: product.child.pid },
    { key: 'bare', port: barePort, pid: bare.pid },
  ];
  const rows = [];
  for (const route of routes) {
    for (const connections of [1, 50]) {
      log(`HTTP ${route.label} at ${connections} connection(s)`);
      for (const s of servers) await cannon(s.port, route, connections, cfg.warmSecs);
      const runs = { product: [], bare: [] };
      for (let r = 0; r < cfg.httpRuns; r += 1) {
        // Alternate the order so that drift on the machine hits both alike.
        const order = r % 2 === 0 ? servers : [...servers].reverse();
        for (const s of order)
          runs[s.key].push(
            await cannon(s.port, route, connections, cfg.httpSecs, undefined, s.pid),
          );
      }
      rows.push({ route: route.label, key: route.key, connections, ...aggregate(runs) });
    }
  }
  await u.stop(product.child);

  // Accept latency: POST /api/v1/workflows at one connection, a fixed number per run.
  log('HTTP submit latency');
  const submit = {
    label: 'POST /api/v1/workflows',
    method: 'POST',
    path: '/api/v1/workflows',
    body: JSON.stringify({ request: REQUEST(7) }),
  };
  const submitRows = [];
  // (a) the default deployment: inline driver, the API runs the workflows it accepts.
  const inlineDb = path.join(tmp, 'submit-inline.db');
  const inlineApi = await startApi('submit-inline', { DATABASE_PATH: inlineDb });
  submitRows.push({
    setup: 'product, inline driver (API runs the workflows)',
    ...(await submitRuns(inlineApi.port, inlineDb)),
  });
  await u.stop(inlineApi.child);
  // (b) BullMQ: the API only stores and enqueues (workers are other processes, stopped here).
  const bullDb = path.join(tmp, 'submit-bullmq.db');
  const bullApi = await startApi('submit-bullmq', {
    DATABASE_PATH: bullDb,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: `bench-submit-${process.pid}`,
    RUN_WORKERS: 'false',
  });
  submitRows.push({
    setup: 'product, BullMQ driver (API stores and enqueues)',
    ...(await submitRuns(bullApi.port, undefined)),
  });
  await u.stop(bullApi.child);
  submitRows.push({
    setup: 'bare Fastify + better-sqlite3 (store only)',
    ...(await submitRuns(barePort, undefined)),
  });
  await u.stop(bare);

  async function submitRuns(port, waitDb) {
    await cannon(port, submit, 1, undefined, 50);
    if (waitDb !== undefined) await waitIdle(waitDb);
    const runs = [];
    for (let r = 0; r < cfg.httpRuns; r += 1) {
      runs.push(await cannon(port, submit, 1, undefined, cfg.submitReqs));
      if (waitDb !== undefined) await waitIdle(waitDb);
    }
    return {
      rps: u.summary(runs.map((x) => x.rps)),
      p50: u.summary(runs.map((x) => x.p50)),
      p99: u.summary(runs.map((x) => x.p99)),
    };
  }

  return { rows, submit: submitRows, responseBytes };
}

function aggregate(runs) {
  const pick = (list) => ({
    rps: u.summary(list.map((x) => x.rps)),
    p50: u.summary(list.map((x) => x.p50)),
    p99: u.summary(list.map((x) => x.p99)),
    cpuUs: u.summary(list.map((x) => x.cpuUs)),
  });
  return {
    product: pick(runs.product),
    bare: pick(runs.bare),
    ratio: u.summary(runs.product.map((p, i) => p.rps / runs.bare[i].rps)),
    cpuRatio: u.summary(runs.product.map((p, i) => runs.bare[i].cpuUs / p.cpuUs)),
  };
}

/**
 * One orchestration setup: warm-up, loaded runs (bursts of N), each followed at once by a batch
 * of as many no-op jobs through raw BullMQ (`raw`), then unloaded hand-offs.
 */
async function orchestrationSetup(label, setup, raw) {
  log(`orchestration: ${label}`);
  const dbFile = path.join(tmp, `orch-${setup.key}.db`);
  const prefix = `bench-${setup.key}-${process.pid}`;
  const common = { DATABASE_PATH: dbFile, RECONCILE_INTERVAL_MS: '30000' };
  const env =
    setup.workers === 0
      ? { ...common, QUEUE_DRIVER: 'inline' }
      : { ...common, REDIS_URL: redisUrl, QUEUE_PREFIX: prefix };
  const api = await startApi(label, {
    ...env,
    RUN_WORKERS: setup.workers === 0 ? 'true' : 'false',
  });
  const workers = [];
  for (let i = 0; i < setup.workers; i += 1) workers.push(await startWorker(env));
  let offset = 0;
  let memory;
  // The memory figure: the processes' RSS once 1,000 workflows ran (or at the end of a quick run).
  const recordMemory = async () => {
    await u.sleep(1000);
    memory = {
      apiRssMb: u.rssMb(api.child.pid),
      workerRssMb: workers.map((w) => u.rssMb(w.child.pid)),
      workflowsProcessed: offset,
    };
  };
  // CPU time of the product's processes and of Redis over each burst (the load generator's not;
  // the inline driver uses no Redis).
  const cpuOf = () => ({
    api: u.cpuMs(api.child.pid),
    workers: workers.reduce((sum, w) => sum + u.cpuMs(w.child.pid), 0),
    redis: setup.workers === 0 ? 0 : u.cpuMs(redis.pid),
  });
  const burst = async (n) => {
    const cpuBefore = cpuOf();
    const t0 = Date.now();
    const ids = await submitMany(api.port, n, offset);
    offset += n;
    await waitIdle(dbFile);
    const cpuAfter = cpuOf();
    if (memory === undefined && offset >= MEMORY_AFTER) await recordMemory();
    const cpuMs = Object.fromEntries(
      Object.keys(cpuBefore).map((k) => [k, cpuAfter[k] - cpuBefore[k]]),
    );
    return { ...orchestrationFigures(dbFile, ids, t0), cpuMs };
  };
  // Warm-up until the processes run at their steady speed: V8 compiles the hot paths in tiers,
  // and the API sees one request per workflow. After 1,000 workflows the API still optimized
  // 12–34 functions per burst of 200 in TurboFan, and V8's helper threads (compile jobs, GC)
  // took 70 µs of its CPU per step: 19 after 4,000 workflows, 8 after 8,000. The figures of
  // 4,000 and 8,000 differed within the noise.
  while (offset < cfg.orchWarmup) await burst(Math.min(cfg.orchN, cfg.orchWarmup - offset));
  const loaded = [];
  for (let r = 0; r < cfg.orchRuns; r += 1) {
    const run = await burst(cfg.orchN);
    loaded.push({ ...run, raw: await raw.batch(run.jobs) });
  }
  // Unloaded: one workflow at a time, so a hand-off is not a wait in a queue behind others.
  const idleIds = [];
  const t0 = Date.now();
  for (let i = 0; i < cfg.idleN; i += 1) {
    const ids = await submitMany(api.port, 1, offset, 1);
    offset += 1;
    await waitIdle(dbFile);
    idleIds.push(...ids);
  }
  const idle = orchestrationFigures(dbFile, idleIds, t0);
  if (memory === undefined) await recordMemory();
  for (const w of workers) await u.stop(w.child);
  await u.stop(api.child);
  const failed = loaded.reduce((s, x) => s + (x.workflows - x.completed), 0);
  if (failed > 0) throw new Error(`${label}: ${failed} workflows did not complete`);
  return {
    label,
    ...setup,
    stepsPerRun: loaded[0].steps,
    workflowsPerRun: cfg.orchN,
    stepsPerSec: u.summary(loaded.map((x) => x.stepsPerSec)),
    jobsPerSec: u.summary(loaded.map((x) => x.jobsPerSec)),
    // Each run's steps/s over the jobs/s of the raw batch run right after it.
    rawJobsPerSec: u.summary(loaded.map((x) => x.raw.jobsPerSec)),
    rawRatio: u.summary(loaded.map((x) => x.stepsPerSec / x.raw.jobsPerSec)),
    rawRuns: loaded.map((x) => x.raw),
    wallMs: u.summary(loaded.map((x) => x.wallMs)),
    loadedHandoffP50: u.summary(loaded.map((x) => x.handoff.p50)),
    loadedHandoffP99: u.summary(loaded.map((x) => x.handoff.p99)),
    idleHandoff: idle.handoff,
    cpuUsPerStep: cpuPerUnit(
      loaded.map((x) => x.cpuMs),
      steps(loaded),
    ),
    memory,
  };
}

function steps(runs) {
  return runs.reduce((sum, x) => sum + x.steps, 0);
}

/**
 * CPU µs per unit (step or job) for each process kind, over all the loaded runs together: /proc
 * counts in 10 ms ticks, too coarse for a single run of a few hundred ms.
 */
function cpuPerUnit(runs, units) {
  const total = {};
  for (const run of runs)
    for (const [k, ms] of Object.entries(run)) total[k] = (total[k] ?? 0) + ms;
  const perUnit = Object.fromEntries(
    Object.entries(total).map(([k, ms]) => [k, (ms * 1000) / units]),
  );
  perUnit.all = Object.values(perUnit).reduce((a, b) => a + b, 0);
  return perUnit;
}

/** The product's default WORKER_CONCURRENCY: raw BullMQ runs with the same. */
function productConcurrency() {
  return require(path.join(DIST, 'config', 'app-config.js')).loadConfig({}).queue.concurrency;
}

/**
 * Raw BullMQ in a process of its own that stays up through the orchestration part: warmed up
 * with `warmup` no-op jobs, then a measured batch whenever `batch(n)` asks for one.
 */
async function rawBullmqServer(warmup) {
  const child = u.start(process.execPath, [path.join(__dirname, 'raw-bullmq.js')], {
    env: rawEnv('serve', 0, warmup),
    logFile: path.join(tmp, 'raw-bullmq.log'),
    stdin: true,
    watch: () => undefined,
  });
  const lines = [];
  const waiting = [];
  let failure;
  let buffered = '';
  // Any failure (the process gone, a line that is not JSON, a write to a closed pipe) rejects
  // the request waiting and every later one: the bench stops with that reason.
  const fail = (error) => {
    failure ??= error;
    for (const w of waiting.splice(0)) w.reject(failure);
  };
  child.stdin.on('error', fail);
  child.stdout.on('data', (chunk) => {
    buffered += chunk.toString('utf8');
    let nl;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const text = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let line;
      try {
        line = JSON.parse(text);
      } catch {
        fail(new Error(`raw BullMQ printed a line that is not JSON: ${text.slice(0, 200)}`));
        return;
      }
      const next = waiting.shift();
      if (next === undefined) lines.push(line);
      else next.resolve(line);
    }
  });
  void child.exited.then(({ code, signal }) =>
    fail(new Error(`raw BullMQ exited (${code ?? signal}); see ${tmp}/raw-bullmq.log`)),
  );
  // A line within `ms` (the warm-up, or one batch), else the bench stops.
  const nextLine = (ms, what) => {
    if (lines.length > 0) return Promise.resolve(lines.shift());
    if (failure !== undefined) return Promise.reject(failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`raw BullMQ: no ${what} in ${ms} ms`)), ms);
      waiting.push({
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  };
  await nextLine(150_000, 'warm-up'); // {"ready":true} once warm
  return {
    batch(count) {
      if (failure !== undefined) return Promise.reject(failure);
      child.stdin.write(`${JSON.stringify({ count })}\n`);
      return nextLine(150_000, `answer for a batch of ${count} jobs`);
    },
    /** Ends its input: it closes its queue and exits (stopped if it takes over 20 s). */
    async close() {
      child.stdin.end();
      const exited = await Promise.race([
        child.exited.then(() => true),
        u.sleep(20_000).then(() => false),
      ]);
      if (!exited) await u.stop(child);
    },
  };
}

function rawEnv(mode, count, warmup) {
  return {
    PATH: process.env.PATH,
    REDIS_URL: redisUrl,
    PREFIX: `bench-raw-${process.pid}`,
    COUNT: String(count),
    CONCURRENCY: String(productConcurrency()),
    MODE: mode,
    WARMUP: String(warmup),
    REDIS_PID: String(redis.pid),
  };
}

/** Raw BullMQ once in a fresh process (warmed up there with `warmup` no-op jobs first). */
function rawBullmq(mode, count, warmup) {
  const out = execFileSync(process.execPath, [path.join(__dirname, 'raw-bullmq.js')], {
    env: rawEnv(mode, count, warmup),
    encoding: 'utf8',
    timeout: 150_000,
  });
  return JSON.parse(out.trim().split('\n').pop());
}

async function benchOrchestration() {
  const setups = [
    { key: 'inline', label: 'inline driver (API runs the jobs)', workers: 0 },
    { key: 'bullmq1', label: 'BullMQ, 1 worker process', workers: 1 },
    { key: 'bullmq2', label: 'BullMQ, 2 worker processes', workers: 2 },
  ];
  // Raw BullMQ runs as many no-op jobs as the product ran in each loaded run (plan + steps +
  // finalize), right after that run, in one process warmed up first with as many jobs as the
  // product's warm-up ran. Runs made a moment apart share the machine's state of the moment
  // (another tenant's load, CPU clocks), which drifts over a minute by more than the margins
  // measured here.
  log(`raw BullMQ: warming up with ${cfg.rawWarmup} no-op jobs`);
  const raw = await rawBullmqServer(cfg.rawWarmup);
  const results = [];
  try {
    for (const s of setups) results.push(await orchestrationSetup(s.label, s, raw));
  } finally {
    await raw.close();
  }
  const rawRuns = results.flatMap((s) => s.rawRuns);
  const count = rawRuns[0].jobs;
  log('raw BullMQ: fresh processes without warm-up, and hand-offs');
  const cold = [];
  for (let r = 0; r < cfg.orchRuns; r += 1) cold.push(rawBullmq('throughput', count, 0));
  // raw-bullmq.js reports its own CPU time and Redis's over the measured jobs (the warm-up's not).
  const rawCpu = cpuPerUnit(
    rawRuns.map((x) => ({ process: x.cpuMs, redis: x.redisCpuMs })),
    rawRuns.reduce((sum, x) => sum + x.jobs, 0),
  );
  const chain = rawBullmq('chain', 300, cfg.rawWarmup);
  return {
    setups: results,
    raw: {
      jobs: count,
      warmup: cfg.rawWarmup,
      concurrency: productConcurrency(),
      jobsPerSec: u.summary(rawRuns.map((x) => x.jobsPerSec)),
      coldJobsPerSec: u.summary(cold.map((x) => x.jobsPerSec)),
      cpuUsPerJob: rawCpu,
      chainHandoff: u.percentiles(chain.handoffs),
    },
  };
}

// ------------------------------------------------------------------ main

function machine() {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return {
    cpu,
    cores: os.cpus().length,
    ramGb: os.totalmem() / 1024 ** 3,
    node: process.version,
    date: new Date().toISOString(),
    commit: (() => {
      try {
        return execSync('git rev-parse --short HEAD', { cwd: u.ROOT, encoding: 'utf8' }).trim();
      } catch {
        return 'unknown';
      }
    })(),
  };
}

async function main() {
  const deadline = setTimeout(() => {
    process.stderr.write('bench: over its time bound, stopping\n');
    u.killAll();
    process.exit(2);
  }, BENCH_DEADLINE_MS);
  deadline.unref();
  const began = Date.now();
  if (!args.has('no-build') && !args.has('dist')) {
    log('npm run build');
    execSync('npm run build', { cwd: u.ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'broski-bench-'));
  const r = await startRedis();
  redis = r.child;
  redisUrl = r.url;
  const results = {
    machine: machine(),
    quick: QUICK,
    config: cfg,
    dist: args.has('dist') ? DIST : undefined,
    nodeFlags: { api: startFlags('main.js'), worker: startFlags('worker.js') },
  };
  try {
    if (ONLY.has('startup')) results.startup = await benchStartup();
    if (ONLY.has('http')) results.http = await benchHttp();
    if (ONLY.has('orch')) results.orch = await benchOrchestration();
  } finally {
    await u.stop(redis);
    u.killAll();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  results.durationSec = (Date.now() - began) / 1000;
  if (args.has('json')) fs.writeFileSync(args.get('json'), JSON.stringify(results, null, 2));
  const complete =
    ONLY.has('startup') && ONLY.has('http') && ONLY.has('orch') && !QUICK && !args.has('dist');
  const target = complete
    ? path.join(__dirname, 'RESULTS.md')
    : path.join(os.tmpdir(), 'broski-bench-partial.md');
  const summaryText = writeReport(results, target);
  // The report is checked by `npm run format:check` like every other file.
  const prettier = require('prettier');
  const options = (await prettier.resolveConfig(target)) ?? {};
  const markdown = fs.readFileSync(target, 'utf8');
  fs.writeFileSync(target, await prettier.format(markdown, { ...options, filepath: target }));
  process.stdout.write(`\n${summaryText}\n`);
  log(`report written to ${target} (${results.durationSec.toFixed(0)} s)`);
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    u.killAll();
    if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
    process.exit(1);
  },
);
