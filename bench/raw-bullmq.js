'use strict';
// Raw BullMQ, the floor the product's queue path is measured against. One process: a Queue that
// adds no-op jobs one by one (each add awaited) and a Worker that processes them, with the same
// concurrency and retention options as the product's driver. Prints one JSON line.
//
//   REDIS_URL=... PREFIX=... COUNT=... CONCURRENCY=... MODE=throughput|chain|serve [WARMUP=n]
//     [REDIS_PID=pid] node bench/raw-bullmq.js
//
// throughput: COUNT jobs added one by one; jobs/s from the first add to the last completion.
// WARMUP: that many no-op jobs run the same way first, in the same process, so that what is
// measured runs warm (JIT-compiled, scripts loaded), as the product's processes do.
// chain: each job adds the next one when it is done; hand-off = the next job's start minus the
// moment the previous job added it (BullMQ's own pick-up latency).
// serve: warms up, prints {"ready":true}, then runs one throughput batch per stdin line
// ({"count":n}) and prints its line; exits when stdin ends. The bench runs a batch right after
// each of the product's loaded runs, so each ratio compares runs made a moment apart.
// Each result line also holds the CPU time of this process and of the Redis server REDIS_PID over
// the measured jobs (cpuMs, redisCpuMs).

const readline = require('node:readline');
const { Queue, Worker } = require('bullmq');
const { cpuMs } = require('./util');

const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const connection = {
  host: redisUrl.hostname,
  port: Number(redisUrl.port || 6379),
  maxRetriesPerRequest: null,
};
const prefix = process.env.PREFIX ?? 'bench-raw';
const count = Number(process.env.COUNT ?? 1000);
const concurrency = Number(process.env.CONCURRENCY ?? 10);
const mode = process.env.MODE ?? 'throughput';
const warmup = Number(process.env.WARMUP ?? 0);
const name = `raw-${mode}-${process.pid}`;
const jobOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { count: 1000, age: 24 * 3600 },
  removeOnFail: { count: 5000, age: 7 * 24 * 3600 },
};

async function main() {
  const queue = new Queue(name, { connection, prefix });
  let completed = 0;
  let target = count;
  let finish;
  let allDone = new Promise((resolve) => (finish = resolve));
  const handoffs = [];
  const worker = new Worker(
    name,
    async (job) => {
      if (mode === 'chain' && job.data.warm !== true) {
        handoffs.push(performance.now() - job.data.at);
        if (job.data.n + 1 < count) {
          await queue.add(
            'noop',
            { n: job.data.n + 1, at: performance.now() },
            {
              ...jobOptions,
              jobId: `j-${job.data.n + 1}`,
            },
          );
        }
      }
    },
    { connection, prefix, concurrency, autorun: true },
  );
  worker.on('completed', () => {
    completed += 1;
    if (completed === target) finish();
  });
  await worker.waitUntilReady();
  // Each stretch of jobs (the warm-up, each measured batch) must finish within two minutes.
  const deadline = () =>
    setTimeout(() => {
      process.stderr.write(`raw bullmq: only ${completed}/${target} jobs completed in time\n`);
      process.exit(1);
    }, 120_000);
  let timeout = deadline();
  if (warmup > 0) {
    target = warmup;
    for (let i = 0; i < warmup; i += 1) {
      await queue.add('noop', { n: i, warm: true }, { ...jobOptions, jobId: `w-${i}` });
    }
    await allDone;
  }
  clearTimeout(timeout);
  const redisPid = Number(process.env.REDIS_PID ?? NaN);
  /** One measured batch of `n` jobs (ids prefixed with `tag`); its JSON figures. */
  const measure = async (n, tag) => {
    completed = 0;
    target = n;
    allDone = new Promise((resolve) => (finish = resolve));
    timeout = deadline();
    const cpuBefore = { process: process.cpuUsage(), redis: cpuMs(redisPid) };
    const started = performance.now();
    if (mode === 'chain') {
      await queue.add('noop', { n: 0, at: performance.now() }, { ...jobOptions, jobId: 'j-0' });
    } else {
      for (let i = 0; i < n; i += 1) {
        await queue.add('noop', { n: i }, { ...jobOptions, jobId: `${tag}-${i}` });
      }
    }
    await allDone;
    const ms = performance.now() - started;
    const used = process.cpuUsage(cpuBefore.process);
    clearTimeout(timeout);
    return {
      mode,
      jobs: n,
      ms,
      jobsPerSec: (n * 1000) / ms,
      handoffs: handoffs.splice(0),
      cpuMs: (used.user + used.system) / 1000,
      redisCpuMs: cpuMs(redisPid) - cpuBefore.redis,
    };
  };
  if (mode === 'serve') {
    process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
    let batch = 0;
    const lines = readline.createInterface({ input: process.stdin });
    for await (const line of lines) {
      const { count: n } = JSON.parse(line);
      batch += 1;
      process.stdout.write(`${JSON.stringify(await measure(n, `b${batch}`))}\n`);
    }
  } else {
    process.stdout.write(`${JSON.stringify(await measure(count, 'j'))}\n`);
  }
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`raw bullmq failed: ${String(error)}\n`);
    process.exit(1);
  },
);
