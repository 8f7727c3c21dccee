import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestApp } from '../helpers/app';
import { tempDir, testConfig } from '../helpers/config';
import { submit } from '../helpers/http';
import {
  DIST_MAIN,
  ensureBuilt,
  errorLines,
  freePort,
  ProcessGroup,
  waitForReady,
} from '../helpers/processes';

function backupsIn(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.db')) : [];
}

function readBackup(file: string): { integrity: unknown; ids: string[] } {
  const db = new Database(file, { readonly: true });
  try {
    const integrity: unknown = db.pragma('integrity_check', { simple: true });
    const ids = db
      .prepare('SELECT id FROM workflows')
      .all()
      .map((row) => (typeof row === 'object' && row !== null && 'id' in row ? String(row.id) : ''));
    return { integrity, ids };
  } finally {
    db.close();
  }
}

describe('graceful shutdown of the API', () => {
  const group = new ProcessGroup();

  beforeAll(() => ensureBuilt());
  afterAll(async () => {
    await group.stopAll();
  });

  it('on SIGTERM: readiness 503 while draining, exit 0, a verified backup holding every accepted workflow', async () => {
    const dir = tempDir();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const backupDir = path.join(dir, 'backups');
    const api = group.spawn('api', DIST_MAIN, {
      env: {
        PORT: String(port),
        DATABASE_PATH: path.join(dir, 'broski.db'),
        BACKUP_DIR: backupDir,
        LOG_LEVEL: 'info',
        OFFLINE_LATENCY_MS: '600',
        SHUTDOWN_GRACE_MS: '5000',
      },
    });
    await waitForReady(base, 20_000, api);
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const response = await fetch(`${base}/api/v1/workflows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ request: `Write a short note number ${i}` }),
      });
      expect(response.status).toBe(202);
      const body: unknown = await response.json();
      if (typeof body === 'object' && body !== null && 'id' in body) ids.push(String(body.id));
    }
    await api.waitForLog((l) => l.msg === 'workflow submitted', 5000, 'a submission log');
    await sleep(300);
    api.proc.kill('SIGTERM');
    // While the in-process workers drain, the server still answers, and readiness says 503.
    let sawDraining = false;
    for (let i = 0; i < 40 && !sawDraining && api.exit() === undefined; i += 1) {
      try {
        const ready = await fetch(`${base}/health/ready`, { signal: AbortSignal.timeout(500) });
        if (ready.status === 503) sawDraining = true;
      } catch {
        break;
      }
      await sleep(25);
    }
    const exit = await api.exited;
    expect(sawDraining).toBe(true);
    expect(exit.code).toBe(0);
    expect(errorLines(api)).toEqual([]);
    expect(api.logs().some((l) => l.msg === 'database backed up at shutdown')).toBe(true);
    // The database closed last, once its WAL checkpoint thread had stopped: the WAL is folded
    // back into the main file.
    const wal = fs.statSync(path.join(dir, 'broski.db-wal'), { throwIfNoEntry: false });
    expect(wal?.size ?? 0).toBe(0);

    const backups = backupsIn(backupDir);
    expect(backups).toHaveLength(1);
    const copy = readBackup(path.join(backupDir, backups[0] ?? 'missing'));
    expect(copy.integrity).toBe('ok');
    expect(copy.ids.sort()).toEqual([...ids].sort());
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});

describe('shutdown backup in-process', () => {
  it('keeps only BACKUP_KEEP backups and can be turned off', async () => {
    const config = testConfig({ BACKUP_KEEP: '2' });
    for (let i = 0; i < 3; i += 1) {
      const t = await startTestApp({ ...config, dir: undefined });
      await submit(t.app, { request: `note ${i}` });
      await t.close();
      await sleep(5);
    }
    expect(backupsIn(config.backup.dir)).toHaveLength(2);

    const off = testConfig({ BACKUP_ON_SHUTDOWN: 'false' });
    const t = await startTestApp(off);
    const dir = off.backup.dir;
    await t.app.close();
    expect(backupsIn(dir)).toHaveLength(0);
    fs.rmSync(config.dir, { recursive: true, force: true });
    fs.rmSync(off.dir, { recursive: true, force: true });
  });
});
