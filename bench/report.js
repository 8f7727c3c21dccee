'use strict';
// Turns the bench results into bench/RESULTS.md and a short summary for the terminal. The part of
// an existing RESULTS.md between the "notes" markers (before/after figures of the fixes, written
// by hand) is kept as it is.

const fs = require('node:fs');
const { fmt, fmtSummary } = require('./util');

const NOTES_START = '<!-- notes:start -->';
const NOTES_END = '<!-- notes:end -->';

const ok = (pass) => (pass ? 'met' : '**missed**');

/**
 * A setup's steps/s over raw BullMQ's jobs/s: the median of each loaded run's ratio to the raw
 * batch run right after it, and the raw batches' median jobs/s (results from before the bench
 * paired them: the two medians).
 */
function rawRatio(setup, orch) {
  if (setup.rawRatio !== undefined) {
    return { ratio: setup.rawRatio, rawJobsPerSec: setup.rawJobsPerSec };
  }
  const median = setup.stepsPerSec.median / orch.raw.jobsPerSec.median;
  return {
    ratio: { median, min: median, max: median, runs: 1 },
    rawJobsPerSec: orch.raw.jobsPerSec,
  };
}

function keptNotes(file) {
  if (!fs.existsSync(file)) return undefined;
  const text = fs.readFileSync(file, 'utf8');
  const start = text.indexOf(NOTES_START);
  const end = text.indexOf(NOTES_END);
  if (start < 0 || end < start) return undefined;
  return text.slice(start, end + NOTES_END.length);
}

function targets(results) {
  const list = [];
  const http = results.http;
  if (http !== undefined) {
    const at50 = http.rows.find((r) => r.key === 'workflow' && r.connections === 50);
    const at1 = http.rows.find((r) => r.key === 'workflow' && r.connections === 1);
    list.push({
      what: 'GET workflow by id, product/bare req/s at 50 connections',
      target: '≥ 0.60×',
      value: `${fmt(at50.ratio.median, 2)}× (server CPU per request: bare/product ${fmt(at50.cpuRatio.median, 2)}×)`,
      pass: at50.ratio.median >= 0.6,
    });
    list.push({
      what: 'GET workflow by id, p99 at 1 connection',
      target: '< 5 ms',
      value: `${fmt(at1.product.p99.median, 2)} ms`,
      pass: at1.product.p99.median < 5,
    });
    for (const row of http.submit.filter((r) => r.setup.startsWith('product'))) {
      list.push({
        what: `Submit p99 at 1 connection, ${row.setup}`,
        target: '< 10 ms',
        value: `${fmt(row.p99.median, 2)} ms`,
        pass: row.p99.median < 10,
      });
    }
  }
  const orch = results.orch;
  if (orch !== undefined) {
    for (const s of orch.setups.filter((x) => x.workers > 0)) {
      const { ratio, rawJobsPerSec } = rawRatio(s, orch);
      list.push({
        what: `Offline steps/s through ${s.label} vs raw BullMQ jobs/s`,
        target: '≥ 0.50×',
        value: `${fmt(ratio.median, 2)}× (${fmt(ratio.min, 2)}–${fmt(ratio.max, 2)}; steps/s ${fmt(s.stepsPerSec.median, 0)}, raw jobs/s ${fmt(rawJobsPerSec.median, 0)})`,
        pass: ratio.median >= 0.5,
      });
      list.push({
        what: `Hand-off p50, ${s.label} (one workflow at a time)`,
        target: '< 5 ms',
        value: `${fmt(s.idleHandoff.p50, 0)} ms`,
        pass: s.idleHandoff.p50 < 5,
      });
    }
    const inline = orch.setups.find((x) => x.workers === 0);
    list.push({
      what: `API RSS after ${inline.memory.workflowsProcessed} workflows (inline driver)`,
      target: '< 150 MB',
      value: `${fmt(inline.memory.apiRssMb, 0)} MB`,
      pass: inline.memory.apiRssMb < 150,
    });
  }
  if (results.startup !== undefined) {
    list.push({
      what: '`broski --help` wall time',
      target: '< 0.5 s',
      value: `${fmt(results.startup.helpMs.median / 1000, 2)} s`,
      pass: results.startup.helpMs.median < 500,
    });
  }
  return list;
}

/** The Node/V8 flags the API and workers ran with (those of package.json's start/worker scripts). */
function nodeFlagsNote(flags) {
  if (flags === undefined) return '';
  const show = (list) => (list.length === 0 ? 'none' : `\`${list.join(' ')}\``);
  return ` Node flags of the product's start commands: API ${show(flags.api)}, worker ${show(flags.worker)}.`;
}

function render(results, notes) {
  const m = results.machine;
  const lines = [];
  lines.push('# Benchmarks: the product against the bare stack');
  lines.push('');
  lines.push(
    `Machine: ${m.cpu}, ${m.cores} cores, ${fmt(m.ramGb, 1)} GB RAM, Node ${m.node}; run ${m.date} at commit ${m.commit}${results.dist === undefined ? '' : ` (build measured: ${results.dist})`}${results.quick ? ' (quick mode)' : ''}; the whole bench took ${fmt(results.durationSec, 0)} s.`,
  );
  lines.push('');
  lines.push(
    'Produced by `npm run bench` (bench/run.js), which builds the product, starts a private Redis and runs the product and the bare stack side by side in the same run. Every figure is the median of several runs after a warm-up, with the min–max of the runs in brackets. The product runs with production settings: `NODE_ENV=production`, `LOG_LEVEL=info` (pino JSON lines to stdout, sent to /dev/null), `RATE_LIMIT_PER_MINUTE=0` (off for the bench), the offline model at zero latency.' +
      nodeFlagsNote(results.nodeFlags),
  );
  lines.push('');
  const t = targets(results);
  if (t.length > 0) {
    lines.push('## Targets (issue 7)');
    lines.push('');
    lines.push('| what | target | measured | |');
    lines.push('|---|---|---|---|');
    for (const x of t) lines.push(`| ${x.what} | ${x.target} | ${x.value} | ${ok(x.pass)} |`);
    lines.push('');
  }
  const http = results.http;
  if (http !== undefined) {
    lines.push('## HTTP overhead');
    lines.push('');
    lines.push(
      `autocannon on loopback, ${results.config.httpRuns} runs of ${results.config.httpSecs} s per figure after a ${results.config.warmSecs} s warm-up, product and bare runs alternated. Latencies are per response (sub-millisecond). The bare server (bench/bare-server.js) is Fastify 5 + better-sqlite3 with prepared statements, running the same queries on a copy of the same database file and answering the same JSON (${fmt(http.responseBytes / 1024, 1)} KB for the workflow with its 5 tasks).`,
    );
    lines.push('');
    lines.push(
      '| route | conns | product req/s | bare req/s | product/bare | product p50 ms | product p99 ms | bare p50 ms | bare p99 ms |',
    );
    lines.push('|---|---|---|---|---|---|---|---|---|');
    for (const r of http.rows) {
      lines.push(
        `| ${r.route} | ${r.connections} | ${fmtSummary(r.product.rps, 0)} | ${fmtSummary(r.bare.rps, 0)} | ${fmtSummary(r.ratio, 2)} | ${fmtSummary(r.product.p50, 2)} | ${fmtSummary(r.product.p99, 2)} | ${fmtSummary(r.bare.p50, 2)} | ${fmtSummary(r.bare.p99, 2)} |`,
      );
    }
    lines.push('');
    lines.push(
      'Server CPU time per request (user + system, from /proc, over the same runs): steadier than req/s when other work shares the 2 cores; the ratio is bare ÷ product, comparable with the req/s ratio.',
    );
    lines.push('');
    lines.push('| route | conns | product CPU µs/req | bare CPU µs/req | bare/product |');
    lines.push('|---|---|---|---|---|');
    for (const r of http.rows) {
      lines.push(
        `| ${r.route} | ${r.connections} | ${fmtSummary(r.product.cpuUs, 0)} | ${fmtSummary(r.bare.cpuUs, 0)} | ${fmtSummary(r.cpuRatio, 2)} |`,
      );
    }
    lines.push('');
    lines.push(
      `Submit (\`POST /api/v1/workflows\`) at 1 connection, ${results.config.submitReqs} requests per run; with the inline driver the API runs the accepted workflows itself, and each run starts when the previous one's workflows are all done.`,
    );
    lines.push('');
    lines.push('| setup | p50 ms | p99 ms |');
    lines.push('|---|---|---|');
    for (const r of http.submit) {
      lines.push(`| ${r.setup} | ${fmtSummary(r.p50, 2)} | ${fmtSummary(r.p99, 2)} |`);
    }
    lines.push('');
  }
  const orch = results.orch;
  if (orch !== undefined) {
    const s0 = orch.setups[0];
    lines.push('## Orchestration throughput');
    lines.push('');
    lines.push(
      `Bursts of ${s0.workflowsPerRun} workflows (${s0.stepsPerRun} steps per run: research → design → build, research → write, all → review; plus one plan and one finalize job per workflow) submitted over HTTP, ${results.config.orchRuns} runs after a warm-up of ${results.config.orchWarmup} workflows in the same processes (V8 compiles the hot paths in tiers: after 1,000 workflows the API was still optimizing functions in every burst). Steps/s = completed steps ÷ (last workflow finished − first submit). Hand-off = a step's \`task.started\` event − the latest \`task.completed\` of its dependencies (event timestamps, 1 ms resolution): "loaded" during the bursts (it includes waiting behind other jobs), "one at a time" over ${results.config.idleN} workflows run one after the other. WORKER_CONCURRENCY=${orch.raw.concurrency} (the default) in every process, and the same concurrency for raw BullMQ. Raw BullMQ runs in one process, warmed up with ${orch.raw.warmup} no-op jobs, that stays up through this part: right after each loaded run it runs a batch of as many jobs as that run had (${orch.raw.jobs}), and the ratio is the median of each run's steps/s over the jobs/s of its batch, so that both sides of a ratio ran under the machine's load of the same moment.`,
    );
    lines.push('');
    lines.push(
      '| setup | steps/s | jobs/s (incl. plan, finalize) | raw BullMQ jobs/s, the batches after its runs | steps/s ÷ raw jobs/s | hand-off loaded p50 / p99 ms | hand-off one at a time p50 / p99 ms |',
    );
    lines.push('|---|---|---|---|---|---|---|');
    for (const s of orch.setups) {
      const { ratio, rawJobsPerSec } = rawRatio(s, orch);
      lines.push(
        `| ${s.label} | ${fmtSummary(s.stepsPerSec, 0)} | ${fmtSummary(s.jobsPerSec, 0)} | ${fmtSummary(rawJobsPerSec, 0)} | ${fmtSummary(ratio, 2)}× | ${fmtSummary(s.loadedHandoffP50, 0)} / ${fmtSummary(s.loadedHandoffP99, 0)} | ${fmt(s.idleHandoff.p50, 0)} / ${fmt(s.idleHandoff.p99, 0)} |`,
      );
    }
    lines.push(
      `| raw BullMQ (bench/raw-bullmq.js): ${orch.raw.jobs} no-op jobs added one by one, 1 worker, concurrency ${orch.raw.concurrency}, after ${orch.raw.warmup} to warm up; all batches | — | — | ${fmtSummary(orch.raw.jobsPerSec, 0)} | 1.00× | — | ${fmt(orch.raw.chainHandoff.p50, 2)} / ${fmt(orch.raw.chainHandoff.p99, 2)} (a job adding the next) |`,
    );
    if (orch.raw.coldJobsPerSec !== undefined) {
      lines.push(
        `| raw BullMQ, the same in a fresh process without warm-up (for comparison only) | — | — | ${fmtSummary(orch.raw.coldJobsPerSec, 0)} | — | — | — |`,
      );
    }
    lines.push('');
    if (orch.raw.cpuUsPerJob !== undefined) {
      const raw = orch.raw.cpuUsPerJob;
      lines.push(
        `CPU time per step over the ${results.config.orchRuns} loaded runs together (user + system of every thread, from /proc; the load generator's own not counted), against raw BullMQ's per job over all its measured batches (its process and Redis). On 2 cores a setup cannot run more steps per second than 2,000,000 ÷ its CPU µs per step, whichever process spends them.`,
      );
      lines.push('');
      lines.push(
        '| setup | API µs/step | worker processes µs/step | Redis µs/step | all µs/step | raw BullMQ µs/job ÷ all |',
      );
      lines.push('|---|---|---|---|---|---|');
      for (const s of orch.setups) {
        const c = s.cpuUsPerStep;
        lines.push(
          `| ${s.label} | ${fmt(c.api, 0)} | ${s.workers === 0 ? '—' : fmt(c.workers, 0)} | ${s.workers === 0 ? '—' : fmt(c.redis, 0)} | ${fmt(c.all, 0)} | ${fmt(raw.all / c.all, 2)}× |`,
        );
      }
      lines.push(
        `| raw BullMQ, per job: its process ${fmt(raw.process, 0)}, Redis ${fmt(raw.redis, 0)} | — | — | — | ${fmt(raw.all, 0)} | 1.00× |`,
      );
      lines.push('');
    }
    lines.push(
      'Memory when the setup had run the number of workflows given (the inline API ran all of them itself):',
    );
    lines.push('');
    lines.push('| setup | workflows run | API RSS MB | worker RSS MB |');
    lines.push('|---|---|---|---|');
    for (const s of orch.setups) {
      lines.push(
        `| ${s.label} | ${s.memory.workflowsProcessed} | ${fmt(s.memory.apiRssMb, 0)} | ${s.memory.workerRssMb.length === 0 ? '—' : s.memory.workerRssMb.map((x) => fmt(x, 0)).join(', ')} |`,
      );
    }
    lines.push('');
  }
  const st = results.startup;
  if (st !== undefined) {
    lines.push('## Start-up and memory');
    lines.push('');
    lines.push(
      'Time from spawning the process to the API answering `GET /health/ready` 200 / the worker logging "processing jobs" (BullMQ driver, Redis on loopback); RSS right after. The CLI figures are wall times of the whole process; `broski run` runs in-process on a local database with the offline model.',
    );
    lines.push('');
    lines.push('| what | time ms | RSS MB |');
    lines.push('|---|---|---|');
    lines.push(
      `| API (inline driver) to ready | ${fmtSummary(st.apiReadyMs, 0)} | ${fmtSummary(st.apiRssMb, 0)} |`,
    );
    lines.push(
      `| worker to processing | ${fmtSummary(st.workerReadyMs, 0)} | ${fmtSummary(st.workerRssMb, 0)} |`,
    );
    lines.push(`| \`broski --help\` | ${fmtSummary(st.helpMs, 0)} | |`);
    lines.push(
      `| \`broski run "<request>" --json\` (in-process, 5 steps) | ${fmtSummary(st.cliRunMs, 0)} | |`,
    );
    lines.push('');
  }
  lines.push(
    notes ?? `${NOTES_START}\n## Before and after the fixes\n\n(none recorded yet)\n${NOTES_END}`,
  );
  lines.push('');
  return { markdown: lines.join('\n'), targets: t };
}

/** Writes the report to `file`; returns the terminal summary. */
function writeReport(results, file) {
  const { markdown, targets: t } = render(results, keptNotes(file));
  fs.writeFileSync(file, markdown);
  const summary = ['Targets:'];
  for (const x of t)
    summary.push(`  ${x.pass ? 'met   ' : 'MISSED'}  ${x.what}: ${x.value} (target ${x.target})`);
  const http = results.http;
  if (http !== undefined) {
    summary.push('HTTP (median req/s, product vs bare):');
    for (const r of http.rows) {
      summary.push(
        `  ${r.route} @${r.connections}: ${fmt(r.product.rps.median, 0)} vs ${fmt(r.bare.rps.median, 0)} (${fmt(r.ratio.median, 2)}×), p99 ${fmt(r.product.p99.median, 2)} vs ${fmt(r.bare.p99.median, 2)} ms`,
      );
    }
  }
  if (results.orch !== undefined) {
    summary.push('Orchestration (median steps/s, hand-off p50 one at a time):');
    for (const s of results.orch.setups) {
      summary.push(
        `  ${s.label}: ${fmt(s.stepsPerSec.median, 0)} steps/s (${fmt(rawRatio(s, results.orch).ratio.median, 2)}× raw), hand-off ${fmt(s.idleHandoff.p50, 0)} ms`,
      );
    }
    summary.push(
      `  raw BullMQ: ${fmt(results.orch.raw.jobsPerSec.median, 0)} jobs/s warm, ${fmt(results.orch.raw.coldJobsPerSec.median, 0)} in a fresh process`,
    );
  }
  return summary.join('\n');
}

module.exports = { writeReport, rawRatio };
