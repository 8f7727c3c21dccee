import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  backupDatabase,
  BackupError,
  backupFileName,
  pruneBackups,
  type BackupResult,
} from '../../src/modules/database/backup';
import { tempDir } from '../helpers/config';

describe('backupDatabase', () => {
  let dir: string;
  let source: Database.Database;

  beforeEach(() => {
    dir = tempDir('broski-backup-');
    source = new Database(path.join(dir, 'live.db'));
    source.pragma('journal_mode = WAL');
    source.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const insert = source.prepare('INSERT INTO t (v) VALUES (?)');
    for (let i = 0; i < 500; i += 1) insert.run(`row ${i}`);
  });

  afterEach(() => {
    source.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes a verified, self-contained copy under a time-ordered name and keeps the newest', async () => {
    const backups = path.join(dir, 'backups');
    const results: BackupResult[] = [];
    for (let i = 0; i < 4; i += 1) {
      results.push(
        await backupDatabase(source, {
          dir: backups,
          keep: 2,
          now: new Date(Date.UTC(2025, 0, 1, 0, 0, i)),
        }),
      );
    }
    expect(path.basename(results[0]?.path ?? '')).toBe('broski-20250101T000000000Z.db');
    expect(results[3]?.pruned.map((p) => path.basename(p))).toEqual([
      'broski-20250101T000001000Z.db',
    ]);
    expect(fs.readdirSync(backups).sort()).toEqual([
      'broski-20250101T000002000Z.db',
      'broski-20250101T000003000Z.db',
    ]);
    const copy = new Database(results[3]?.path ?? '', { readonly: true });
    try {
      expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(copy.pragma('journal_mode', { simple: true })).toBe('delete');
      expect(copy.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 500 });
    } finally {
      copy.close();
    }
    expect(results[3]?.bytes).toBeGreaterThan(0);
  });

  it('writes to an explicit path without pruning the backup directory; refuses a directory', async () => {
    const backups = path.join(dir, 'backups');
    fs.mkdirSync(backups);
    fs.writeFileSync(path.join(backups, backupFileName(new Date(0))), '');
    fs.writeFileSync(path.join(backups, 'notes.txt'), 'keep me');
    const target = path.join(dir, 'elsewhere', 'copy.db');
    const result = await backupDatabase(source, { target, dir: backups, keep: 1 });
    expect(result.path).toBe(target);
    expect(result.pruned).toEqual([]);
    expect(fs.readdirSync(path.dirname(target))).toEqual(['copy.db']);
    await expect(backupDatabase(source, { target: dir, dir: backups, keep: 1 })).rejects.toThrow(
      BackupError,
    );
    expect(pruneBackups(backups, 0)).toHaveLength(1);
    expect(fs.readdirSync(backups)).toEqual(['notes.txt']);
    expect(pruneBackups(path.join(dir, 'missing'), 1)).toEqual([]);
  });

  it('leaves nothing behind when the copy cannot be written', async () => {
    source.close();
    await expect(
      backupDatabase(source, { target: path.join(dir, 'x.db'), dir, keep: 1 }),
    ).rejects.toThrow(/the backup to .*x\.db failed/);
    expect(fs.readdirSync(dir).filter((f) => f.includes('x.db'))).toEqual([]);
    source = new Database(path.join(dir, 'live.db'));
  });
});
