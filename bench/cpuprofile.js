'use strict';
// Summarises a V8 .cpuprofile (from `node --cpu-prof`, or `npm run bench -- --cpu-prof=dir`):
// self time by function and by package, the biggest first.
//
//   node bench/cpuprofile.js <file.cpuprofile> [top=30]

const fs = require('node:fs');

const file = process.argv[2];
const top = Number(process.argv[3] ?? 30);
if (file === undefined) {
  process.stderr.write('usage: node bench/cpuprofile.js <file.cpuprofile> [top]\n');
  process.exit(2);
}
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const deltas = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i += 1) {
  const id = profile.samples[i];
  self.set(id, (self.get(id) ?? 0) + (deltas[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);

function packageOf(url) {
  if (url === '') return '(native/vm)';
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match !== null) return match[1];
  if (url.startsWith('node:')) return 'node:internal';
  if (url.includes('/dist/')) return 'broski (dist)';
  return url;
}

const fns = new Map();
const pkgs = new Map();
for (const [id, us] of self) {
  const { callFrame } = byId.get(id);
  const name = `${callFrame.functionName || '(anonymous)'} ${callFrame.url.replace(/^.*node_modules\//, '')}:${callFrame.lineNumber + 1}`;
  fns.set(name, (fns.get(name) ?? 0) + us);
  const pkg = packageOf(callFrame.url);
  pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + us);
}
const pct = (us) => `${((us * 100) / total).toFixed(1).padStart(5)}%`;
process.stdout.write(`total sampled ${(total / 1000).toFixed(0)} ms\n\nby package:\n`);
for (const [k, v] of [...pkgs].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  process.stdout.write(`${pct(v)}  ${k}\n`);
}
process.stdout.write('\nby function (self):\n');
for (const [k, v] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  process.stdout.write(`${pct(v)}  ${k}\n`);
}
