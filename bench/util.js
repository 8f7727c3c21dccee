'use strict';
// Helpers shared by the bench: child processes, readiness, memory, statistics, loopback HTTP.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A free TCP port on the loopback address. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(address.port));
    });
  });
}

/** Resident set size of a process in MB (from /proc; 0 when the process is gone). */
function rssMb(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return match === null ? 0 : Number(match[1]) / 1024;
  } catch {
    return 0;
  }
}

/** CPU time (user + system) a process has used, in ms (from /proc; clock ticks of 10 ms). */
function cpuMs(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

const children = new Set();

/**
 * Starts a child process. stdout goes to `logFile` (or /dev/null); `watch` gets every stdout
 * chunk (for "ready" lines) when given, in which case the stream is also copied to the file.
 * `stdin: true` gives the child a stdin pipe (child.stdin).
 */
function start(command, args, options) {
  const { env, cwd, logFile, watch, stdin } = options;
  const out = logFile === undefined ? 'ignore' : fs.openSync(logFile, 'a');
  const input = stdin === true ? 'pipe' : 'ignore';
  const stdio = watch === undefined ? [input, out, out] : [input, 'pipe', out];
  const child = spawn(command, args, {
    cwd: cwd ?? ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio,
  });
  if (watch !== undefined) {
    const copy = typeof out === 'number' ? fs.createWriteStream('', { fd: out }) : undefined;
    child.stdout.on('data', (chunk) => {
      watch(chunk.toString('utf8'));
      if (copy !== undefined) copy.write(chunk);
    });
  }
  children.add(child);
  child.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  return child;
}

/** Stops a child by its pid: SIGTERM, then SIGKILL after `graceMs`. */
async function stop(child, graceMs = 8000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const done = await Promise.race([
    child.exited.then(() => true),
    sleep(graceMs).then(() => false),
  ]);
  if (!done) {
    child.kill('SIGKILL');
    await child.exited;
  }
}

/** Kills every child still running (on a failure of the bench). */
function killAll() {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** One loopback HTTP request; resolves with {status, headers, body, ms}. */
function request(port, method, urlPath, body, headers = {}, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const started = process.hrtime.bigint();
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: urlPath,
        agent: keepAlive,
        headers: {
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
          ...headers,
        },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          let parsed = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode, headers: res.headers, body: parsed, ms });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** Polls `GET urlPath` until it answers 200; returns ms since `since` (hrtime bigint). */
async function waitHttpReady(port, urlPath, since, child, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child !== undefined && child.exitCode !== null) {
      throw new Error(`process exited with ${child.exitCode} before it was ready`);
    }
    try {
      const res = await request(port, 'GET', urlPath, undefined, {}, 1000);
      if (res.status === 200) return Number(process.hrtime.bigint() - since) / 1e6;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${urlPath} on port ${port} not ready in time`);
    await sleep(5);
  }
}

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index];
}

function percentiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1],
  };
}

/** Median with min and max of the runs' values. */
function summary(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return { median: NaN, min: NaN, max: NaN, runs: 0 };
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], runs: sorted.length };
}

function fmt(value, digits = 1) {
  if (!Number.isFinite(value)) return 'n/a';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(digits);
}

/** "median (min–max)". */
function fmtSummary(s, digits = 1) {
  if (s.runs === 0) return 'n/a';
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}

module.exports = {
  ROOT,
  sleep,
  freePort,
  rssMb,
  cpuMs,
  start,
  stop,
  killAll,
  request,
  waitHttpReady,
  percentiles,
  summary,
  fmt,
  fmtSummary,
};
