'use strict';
// Prints a markdown table comparing two bench runs saved with `--json=<file>`:
//
//   node bench/run.js --dist=/path/to/old/dist --json=before.json
//   node bench/run.js --json=after.json
//   node bench/compare.js before.json after.json

const fs = require('node:fs');
const { rawRatio } = require('./report');
const { fmt } = require('./util');

const [beforeFile, afterFile] = process.argv.slice(2);
if (beforeFile === undefined || afterFile === undefined) {
  process.stderr.write('usage: node bench/compare.js <before.json> <after.json>\n');
  process.exit(2);
}
const before = JSON.parse(fs.readFileSync(beforeFile, 'utf8'));
const after = JSON.parse(fs.readFileSync(afterFile, 'utf8'));

const rows = [];
const add = (what, pick, digits = 0, unit = '') => {
  let b;
  let a;
  try {
    b = pick(before);
    a = pick(after);
  } catch {
    return;
  }
  if (!Number.isFinite(b) || !Number.isFinite(a)) return;
  rows.push(`| ${what} | ${fmt(b, digits)}${unit} | ${fmt(a, digits)}${unit} |`);
};

for (const key of ['workflow', 'agent']) {
  for (const c of [1, 50]) {
    const row = (r) => r.http.rows.find((x) => x.key === key && x.connections === c);
    const label = key === 'workflow' ? 'GET /workflows/:id' : 'GET /agents/:type';
    add(`${label} @${c}: product req/s`, (r) => row(r).product.rps.median);
    add(`${label} @${c}: bare req/s`, (r) => row(r).bare.rps.median);
    add(`${label} @${c}: product/bare`, (r) => row(r).ratio.median, 2, '×');
    add(`${label} @${c}: product p99`, (r) => row(r).product.p99.median, 2, ' ms');
  }
}
for (const i of [0, 1]) {
  add(
    `Submit p99, ${before.http?.submit[i]?.setup ?? i}`,
    (r) => r.http.submit[i].p99.median,
    2,
    ' ms',
  );
}
// A section (http, orch, startup) missing from either run (`--only=...`) has no rows.
for (const i of [0, 1, 2]) {
  const label = (r) => r.orch?.setups[i]?.label ?? `setup ${i}`;
  add(`Steps/s, ${label(after)}`, (r) => r.orch.setups[i].stepsPerSec.median);
  // Results since the raw batches run next to each loaded run: the median of the paired ratios;
  // older results: the ratio of the two medians.
  add(
    `Steps/s ÷ raw BullMQ jobs/s (paired), ${label(after)}`,
    (r) => rawRatio(r.orch.setups[i], r.orch).ratio.median,
    2,
    '×',
  );
  add(
    `Hand-off p50 one at a time, ${label(after)}`,
    (r) => r.orch.setups[i].idleHandoff.p50,
    0,
    ' ms',
  );
}
// Older results: fresh warmed-up processes; newer: batches in one long-lived warmed-up process.
add('Raw BullMQ jobs/s', (r) => r.orch.raw.jobsPerSec.median);
add('API RSS after the inline runs', (r) => r.orch.setups[0].memory.apiRssMb, 0, ' MB');
add('API ready', (r) => r.startup.apiReadyMs.median, 0, ' ms');
add('API RSS at start', (r) => r.startup.apiRssMb.median, 0, ' MB');
add('Worker ready', (r) => r.startup.workerReadyMs.median, 0, ' ms');
add('`broski --help`', (r) => r.startup.helpMs.median, 0, ' ms');
add('`broski run` in-process', (r) => r.startup.cliRunMs.median, 0, ' ms');

process.stdout.write(`| figure (median) | before | after |\n|---|---|---|\n${rows.join('\n')}\n`);
