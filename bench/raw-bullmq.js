'use strict';
// Raw BullMQ, the floor the product's queue path is measured against. One process: a Queue that
// adds no-op jobs one by one (each add awaited) and a Worker that processes them, with the same
// concurrency and retention options as the product's driver. Prints one JSON line.
//
//   REDIS_URL=... PREFIX=... COUNT=... CONCURRENCY=... MODE=throughput|chain node bench/raw-bullmq.js
//
// throughput: COUNT jobs added one by one; jobs/s from the first add to the last completion.
// chain: each job adds the next one when it is done; hand-off = the next job's start minus the
// moment the previous job added it (BullMQ's own pick-up latency).

const { Queue, Worker } = require('bullmq');

const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const connection = {
  host: redisUrl.hostname,
  port: Number(redisUrl.port || 6379),
  maxRetriesPerRequest: null,
};
const prefix = process.env.PREFIX ?? 'bench-raw';
const count = Number(process.env.COUNT ?? 1000);
const concurrency = Number(process.env.CONCURRENCY ?? 4);
const mode = process.env.MODE ?? 'throughput';
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
  let finish;
  const allDone = new Promise((resolve) => (finish = resolve));
  const handoffs = [];
  const worker = new Worker(
    name,
    async (job) => {
      if (mode === 'chain') {
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
    if (completed === count) finish();
  });
  await worker.waitUntilReady();
  const timeout = setTimeout(() => {
    process.stderr.write(`raw bullmq: only ${completed}/${count} jobs completed in time\n`);
    process.exit(1);
  }, 120_000);
  const started = performance.now();
  if (mode === 'chain') {
    await queue.add('noop', { n: 0, at: performance.now() }, { ...jobOptions, jobId: 'j-0' });
  } else {
    for (let i = 0; i < count; i += 1) {
      await queue.add('noop', { n: i }, { ...jobOptions, jobId: `j-${i}` });
    }
  }
  await allDone;
  const ms = performance.now() - started;
  clearTimeout(timeout);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  process.stdout.write(
    `${JSON.stringify({ mode, jobs: count, ms, jobsPerSec: (count * 1000) / ms, handoffs })}\n`,
  );
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`raw bullmq failed: ${String(error)}\n`);
    process.exit(1);
  },
);
