import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import request from 'supertest';
import { z } from 'zod';
import { MIGRATIONS_DIR } from '../../src/common/paths';
import { loadConfig } from '../../src/config/app-config';
import {
  openDatabase,
  runMigrations,
  type Connection,
} from '../../src/modules/database/connection';
import Database from 'better-sqlite3';
import { SQLITE } from '../../src/modules/database/database.tokens';
import { MAX_GROUP, Transactor } from '../../src/modules/database/transactor';
import { DatabaseModule } from '../../src/modules/database/database.module';
import { ShutdownBackup } from '../../src/modules/database/shutdown-backup';
import {
  BACKSTOP_FACTOR,
  RESTART_AFTER_PAGES,
  SQLITE_DEFAULT_AUTOCHECKPOINT,
  WalCheckpointer,
} from '../../src/modules/database/wal-checkpointer';
import { startTestApp } from '../helpers/app';
import { tempDir, testConfig } from '../helpers/config';
import { ensureBuilt, ROOT } from '../helpers/processes';

const TABLES = ['agents', 'workflows', 'tasks', 'workflow_events', 'llm_calls'];

describe('database', () => {
  const dirs: string[] = [];
  const open: Connection[] = [];

  function connect(env: Record<string, string> = {}): Connection {
    const dir = tempDir('broski-db-');
    dirs.push(dir);
    const config = loadConfig({ DATABASE_PATH: path.join(dir, 'broski.db'), ...env });
    const connection = openDatabase(config.database);
    open.push(connection);
    return connection;
  }

  const tableNames = (c: Connection) =>
    c.sqlite
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__drizzle%'",
      )
      .pluck()
      .all();

  afterAll(() => {
    for (const c of open) if (c.sqlite.open) c.sqlite.close();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Holds the write lock of `file` from another thread for `ms`; resolves once it holds it. */
  async function holdWriteLock(file: string, ms: number): Promise<{ released: Promise<void> }> {
    const thread = new Worker(
      `const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
       const { parentPort, workerData } = require('node:worker_threads');
       const db = new Database(workerData.file);
       db.exec('BEGIN IMMEDIATE');
       parentPort.postMessage('locked');
       Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.ms);
       db.exec('COMMIT');
       db.close();`,
      { eval: true, workerData: { file, ms } },
    );
    await once(thread, 'message');
    return { released: once(thread, 'exit').then(() => undefined) };
  }

  describe('opening', () => {
    it('uses WAL, foreign keys, synchronous NORMAL, a busy timeout and temporary storage in memory', () => {
      const c = connect();
      expect(c.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(c.sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(c.sqlite.pragma('synchronous', { simple: true })).toBe(1);
      expect(c.sqlite.pragma('busy_timeout', { simple: true })).toBe(5000);
      // 2 = MEMORY: savepoint journals of grouped works never spill into a temporary file.
      expect(c.sqlite.pragma('temp_store', { simple: true })).toBe(2);
    });

    it('follows SQLITE_SYNCHRONOUS and SQLITE_BUSY_TIMEOUT_MS', () => {
      const c = connect({ SQLITE_SYNCHRONOUS: 'FULL', SQLITE_BUSY_TIMEOUT_MS: '1234' });
      expect(c.sqlite.pragma('synchronous', { simple: true })).toBe(2);
      expect(c.sqlite.pragma('busy_timeout', { simple: true })).toBe(1234);
    });

    it('creates the directory of the database file', () => {
      const dir = tempDir('broski-db-');
      dirs.push(dir);
      const file = path.join(dir, 'nested', 'deeper', 'broski.db');
      const c = openDatabase(loadConfig({ DATABASE_PATH: file }).database);
      open.push(c);
      expect(fs.existsSync(file)).toBe(true);
    });

    it('switches a new file to WAL once another process that is writing to it lets go', async () => {
      // Two processes opening a new file together: while one writes to it before its own switch,
      // the other's switch fails at once with SQLITE_BUSY (SQLite's busy handler does not wait
      // for it). Seen in the e2e test of two CLI runs on a new database (2 failed runs in 14).
      const dir = tempDir('broski-db-');
      dirs.push(dir);
      const file = path.join(dir, 'broski.db');
      const lock = await holdWriteLock(file, 100);
      const c = openDatabase(loadConfig({ DATABASE_PATH: file }).database);
      open.push(c);
      expect(c.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
      // The switch waits for the other writer only: the connection keeps its own busy timeout.
      expect(c.sqlite.pragma('busy_timeout', { simple: true })).toBe(5000);
      await lock.released;
    });
  });

  describe('migrations', () => {
    it('create all five tables', () => {
      const c = connect();
      expect(tableNames(c)).toEqual([]);
      runMigrations(c);
      expect(tableNames(c)).toEqual(expect.arrayContaining(TABLES));
    });

    it('are idempotent: running them twice changes nothing and keeps data', () => {
      const c = connect();
      runMigrations(c);
      const schemaOf = () =>
        c.sqlite.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY type, name').all();
      const before = schemaOf();
      c.sqlite
        .prepare(
          "INSERT INTO agents (id, type, name, system_prompt, created_at, updated_at) VALUES ('a1', 'probe', 'Probe', 'p', 'now', 'now')",
        )
        .run();
      expect(() => runMigrations(c)).not.toThrow();
      expect(() => runMigrations(c)).not.toThrow();
      expect(schemaOf()).toEqual(before);
      expect(c.sqlite.prepare('SELECT count(*) FROM agents').pluck().get()).toBe(1);
    });

    it('upgrade a database of an earlier release in place: its rows stay, the status index of tasks goes', () => {
      // The migrations up to 0002 only, as an earlier release shipped them.
      const earlier = tempDir('broski-migrations-');
      dirs.push(earlier);
      const journalFile = path.join(MIGRATIONS_DIR, 'meta', '_journal.json');
      const journal = z
        .looseObject({ entries: z.array(z.looseObject({ tag: z.string() })) })
        .parse(JSON.parse(fs.readFileSync(journalFile, 'utf8')));
      const entries = journal.entries.slice(0, 3);
      expect(entries.map((e) => e.tag)).toEqual([
        '0000_initial',
        '0001_api_keys',
        '0002_task_carrier',
      ]);
      fs.mkdirSync(path.join(earlier, 'meta'));
      fs.writeFileSync(
        path.join(earlier, 'meta', '_journal.json'),
        JSON.stringify({ ...journal, entries }),
      );
      for (const e of entries) {
        fs.copyFileSync(
          path.join(MIGRATIONS_DIR, `${e.tag}.sql`),
          path.join(earlier, `${e.tag}.sql`),
        );
      }
      const c = connect();
      migrate(c.db, { migrationsFolder: earlier });
      const taskIndexes = () =>
        c.sqlite
          .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tasks'")
          .pluck()
          .all();
      expect(taskIndexes()).toContain('tasks_status_idx');
      c.sqlite.exec(
        `INSERT INTO workflows (id, user_request, created_at, updated_at) VALUES ('w1', 'r', 'now', 'now');
         INSERT INTO tasks (id, workflow_id, key, position, title, agent_type, input, status, depends_on, created_at)
           VALUES ('t1', 'w1', 'research', 0, 'Research', 'researcher', 'i', 'completed', '[]', 'now');`,
      );

      runMigrations(c);

      expect(taskIndexes()).not.toContain('tasks_status_idx');
      // The same schema as a database made by the current migrations from the start.
      const fresh = connect();
      runMigrations(fresh);
      const schemaOf = (x: Connection) =>
        x.sqlite
          .prepare(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
          )
          .all();
      expect(schemaOf(c)).toEqual(schemaOf(fresh));
      expect(c.sqlite.prepare('SELECT id, status FROM tasks').all()).toEqual([
        { id: 't1', status: 'completed' },
      ]);
    });

    it('survive another process applying them at the same moment', async () => {
      // The race of two processes opening a new database at once, made deterministic: another
      // thread holds the write lock while it applies "the migrations" (here: a table and the
      // migrator's bookkeeping row). This process reads that nothing is applied yet, waits for
      // the lock, then finds the table there: its first attempt fails and is rolled back; the
      // next one sees the other's bookkeeping and has nothing left to do.
      const c = connect();
      const file = c.sqlite.name;
      c.sqlite.exec(
        'CREATE TABLE IF NOT EXISTS __drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)',
      );
      const thread = new Worker(
        `const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
         const { parentPort, workerData } = require('node:worker_threads');
         const db = new Database(workerData.file);
         db.exec('BEGIN IMMEDIATE');
         db.exec('CREATE TABLE agents (id text PRIMARY KEY)');
         db.exec("INSERT INTO __drizzle_migrations (hash, created_at) VALUES ('other process', 99999999999999)");
         parentPort.postMessage('locked');
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
         db.exec('COMMIT');
         db.close();`,
        { eval: true, workerData: { file } },
      );
      await once(thread, 'message');
      expect(() => runMigrations(c)).not.toThrow();
      await once(thread, 'exit');
      expect(c.sqlite.prepare('SELECT hash FROM __drizzle_migrations').pluck().all()).toEqual([
        'other process',
      ]);
    });

    it('enforce foreign keys between tasks and workflows', () => {
      const c = connect();
      runMigrations(c);
      const fks = c.sqlite.prepare("SELECT * FROM pragma_foreign_key_list('tasks')").all();
      expect(JSON.stringify(fks)).toContain('workflows');
      expect(c.sqlite.prepare('PRAGMA foreign_key_check').all()).toEqual([]);
    });
  });

  describe('persistence across restarts', () => {
    it('keeps created agents and does not seed the built-ins twice', async () => {
      const { dir, ...config } = testConfig();
      dirs.push(dir);

      const first = await startTestApp(config);
      try {
        await request(first.app.getHttpServer())
          .post('/api/v1/agents')
          .send({ type: 'survivor', name: 'Survivor 🦀', systemPrompt: 'Stay.' })
          .expect(201);
        await request(first.app.getHttpServer())
          .patch('/api/v1/agents/researcher')
          .send({ description: 'edited by an operator' })
          .expect(200);
      } finally {
        await first.close();
      }
      // A clean shutdown folds the WAL back into the main file.
      expect(fs.existsSync(config.database.path)).toBe(true);
      expect(fs.statSync(`${config.database.path}-wal`, { throwIfNoEntry: false })?.size ?? 0).toBe(
        0,
      );

      const second = await startTestApp(config);
      try {
        const server = second.app.getHttpServer();
        const survivor = await request(server).get('/api/v1/agents/survivor').expect(200);
        expect(survivor.body).toMatchObject({ type: 'survivor', name: 'Survivor 🦀' });
        // Seeding never overwrites an operator's edits to a built-in.
        const researcher = await request(server).get('/api/v1/agents/researcher').expect(200);
        expect(researcher.body).toMatchObject({ description: 'edited by an operator', version: 2 });

        const list = await request(server).get('/api/v1/agents?limit=100').expect(200);
        const types = (list.body as { items: Array<{ type: string }> }).items.map((a) => a.type);
        expect(types).toHaveLength(8);
        expect(new Set(types).size).toBe(8);
        expect(types).toContain('survivor');
      } finally {
        await second.close();
      }
    });
  });

  describe('deferred writes (Transactor.defer)', () => {
    function setUp() {
      const c = connect();
      c.sqlite.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)');
      const insert = c.sqlite.prepare('INSERT INTO notes (text) VALUES (?)');
      const notes = () => c.sqlite.prepare('SELECT text FROM notes ORDER BY id').pluck().all();
      return { c, tx: new Transactor(c.sqlite), insert, notes };
    }
    const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

    it('is written inside the next transaction, before its work', () => {
      const { tx, insert, notes } = setUp();
      tx.defer(() => insert.run('model call'));
      expect(notes()).toEqual([]);
      tx.immediate(() => insert.run('step completed'));
      expect(notes()).toEqual(['model call', 'step completed']);
    });

    it('is dropped when it fails, without taking the transaction it joined with it', async () => {
      const { tx, insert, notes } = setUp();
      tx.defer(() => insert.run('first'));
      tx.defer(() => {
        insert.run('half-written');
        throw new Error('a record that cannot be written');
      });
      tx.defer(() => insert.run('after it'));
      tx.immediate(() => insert.run('the work'));
      expect(notes()).toEqual(['first', 'after it', 'the work']);
      await tick();
      tx.immediate(() => insert.run('later'));
      expect(notes()).toEqual(['first', 'after it', 'the work', 'later']);
    });

    it('is written on the next turn of the event loop when no transaction comes', async () => {
      const { tx, insert, notes } = setUp();
      tx.defer(() => insert.run('alone'));
      await tick();
      expect(notes()).toEqual(['alone']);
    });

    it('is kept when the transaction it joined rolls back, and written later', async () => {
      const { tx, insert, notes } = setUp();
      tx.defer(() => insert.run('kept'));
      expect(() =>
        tx.immediate(() => {
          insert.run('rolled back');
          throw new Error('the work failed');
        }),
      ).toThrow('the work failed');
      expect(notes()).toEqual([]);
      tx.immediate(() => insert.run('next'));
      expect(notes()).toEqual(['kept', 'next']);
      await tick();
      expect(notes()).toEqual(['kept', 'next']);
    });

    it('is kept when the grouped works it was written with all fail', async () => {
      const { tx, insert, notes } = setUp();
      tx.defer(() => insert.run('model call'));
      const failing = tx.grouped(() => {
        insert.run('rolled back');
        throw new Error('the work failed');
      });
      await expect(failing).rejects.toThrow('the work failed');
      expect(notes()).toEqual(['model call']);
    });

    it('takes the write lock as soon as another process lets go of it', async () => {
      const { c, tx, insert, notes } = setUp();
      const lock = await holdWriteLock(c.sqlite.name, 30);
      tx.immediate(() => insert.run('after the other writer'));
      expect(notes()).toEqual(['after the other writer']);
      await lock.released;
    });

    it('gives up with SQLITE_BUSY after SQLITE_BUSY_TIMEOUT_MS', async () => {
      const c = connect({ SQLITE_BUSY_TIMEOUT_MS: '20' });
      c.sqlite.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)');
      const tx = new Transactor(c.sqlite);
      const lock = await holdWriteLock(c.sqlite.name, 300);
      let ran = false;
      const started = performance.now();
      expect(() =>
        tx.immediate(() => {
          ran = true;
        }),
      ).toThrow(expect.objectContaining({ code: 'SQLITE_BUSY' }));
      // It waited for the lock that long before giving up.
      expect(performance.now() - started).toBeGreaterThanOrEqual(19);
      expect(ran).toBe(false);
      await lock.released;
      // The wait is the connection's own busy timeout, SQLITE_BUSY_TIMEOUT_MS, and the
      // connection keeps it for its other statements.
      expect(c.sqlite.pragma('busy_timeout', { simple: true })).toBe(20);
    });

    it("waits with SQLite's own busy timeout lifted, from the connection's first transaction", async () => {
      const c = connect();
      c.sqlite.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)');
      const tx = new Transactor(c.sqlite);
      const pragmas = jest.spyOn(c.sqlite, 'pragma');
      const lock = await holdWriteLock(c.sqlite.name, 30);
      tx.immediate(() => c.sqlite.prepare('INSERT INTO notes (text) VALUES (?)').run('first'));
      await lock.released;
      // Lifted for BEGIN IMMEDIATE, then restored for the connection's other statements.
      expect(pragmas.mock.calls.map((call) => call[0])).toEqual([
        'busy_timeout = 0',
        'busy_timeout = 5000',
      ]);
      pragmas.mockRestore();
      expect(c.sqlite.pragma('busy_timeout', { simple: true })).toBe(5000);
    });

    it('does not wait for the write lock with SQLITE_BUSY_TIMEOUT_MS=0', async () => {
      const c = connect({ SQLITE_BUSY_TIMEOUT_MS: '0' });
      c.sqlite.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)');
      const tx = new Transactor(c.sqlite);
      const lock = await holdWriteLock(c.sqlite.name, 100);
      expect(() => tx.immediate(() => undefined)).toThrow(
        expect.objectContaining({ code: 'SQLITE_BUSY' }),
      );
      expect(c.sqlite.pragma('busy_timeout', { simple: true })).toBe(0);
      await lock.released;
    });

    it('is written by the shutdown backup and by the database closing, not left behind', async () => {
      const config = testConfig({
        BACKUP_ON_SHUTDOWN: 'true',
        BACKUP_DIR: path.join(tempDir('broski-backup-'), 'backups'),
      });
      const t = await startTestApp(config);
      const tx = t.app.get(Transactor);
      const sqlite = t.app.get<Database.Database>(SQLITE);
      const note = (type: string, text: string) =>
        tx.defer(() => {
          sqlite.prepare('UPDATE agents SET description = ? WHERE type = ?').run(text, type);
        });
      // Each hook runs at once after defer(): no turn of the event loop could have written it.
      note('writer', 'deferred before the backup');
      await t.app.get(ShutdownBackup).onApplicationShutdown();
      note('coder', 'deferred before the close');
      await t.app.get(DatabaseModule).onApplicationShutdown();
      expect(sqlite.open).toBe(false);
      await t.app.close();

      const backups = fs.readdirSync(config.backup.dir).filter((f) => f.endsWith('.db'));
      expect(backups).toHaveLength(1);
      const backup = new Database(path.join(config.backup.dir, backups[0]!), { readonly: true });
      const reopened = openDatabase(config.database);
      open.push(reopened);
      const descriptionIn = (db: Database.Database, type: string) =>
        db.prepare('SELECT description FROM agents WHERE type = ?').pluck().get(type);
      try {
        expect(descriptionIn(backup, 'writer')).toBe('deferred before the backup');
        expect(descriptionIn(reopened.sqlite, 'writer')).toBe('deferred before the backup');
        expect(descriptionIn(reopened.sqlite, 'coder')).toBe('deferred before the close');
      } finally {
        backup.close();
        fs.rmSync(path.dirname(config.backup.dir), { recursive: true, force: true });
        fs.rmSync(config.dir, { recursive: true, force: true });
      }
    });

    it('leaves the shutdown backup to be taken when the write lock stays taken', async () => {
      const config = testConfig({
        BACKUP_ON_SHUTDOWN: 'true',
        BACKUP_DIR: path.join(tempDir('broski-backup-'), 'backups'),
        SQLITE_BUSY_TIMEOUT_MS: '20',
      });
      const t = await startTestApp(config);
      const tx = t.app.get(Transactor);
      const sqlite = t.app.get<Database.Database>(SQLITE);
      try {
        const lock = await holdWriteLock(sqlite.name, 300);
        tx.defer(() => {
          sqlite.prepare('UPDATE agents SET description = ? WHERE type = ?').run('late', 'writer');
        });
        await t.app.get(ShutdownBackup).onApplicationShutdown();
        await lock.released;
        const backups = fs.readdirSync(config.backup.dir).filter((f) => f.endsWith('.db'));
        expect(backups).toHaveLength(1);
      } finally {
        await t.app.close();
        fs.rmSync(path.dirname(config.backup.dir), { recursive: true, force: true });
        fs.rmSync(config.dir, { recursive: true, force: true });
      }
    });
  });
  describe('group commit (Transactor.grouped)', () => {
    function setUp(env: Record<string, string> = {}) {
      const c = connect(env);
      c.sqlite.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)');
      const insert = c.sqlite.prepare('INSERT INTO notes (text) VALUES (?)');
      const observer = new Database(c.sqlite.name, { readonly: true });
      const committed = () => observer.prepare('SELECT text FROM notes ORDER BY id').pluck().all();
      return { c, tx: new Transactor(c.sqlite), insert, committed, observer };
    }

    it('commits the works of one turn together, and settles each promise after the commit', async () => {
      const { tx, insert, committed, observer } = setUp();
      const seenAtResolve: unknown[] = [];
      const works = ['a', 'b', 'c'].map((text) =>
        tx
          .grouped(() => insert.run(text).lastInsertRowid)
          .then((id) => {
            seenAtResolve.push(committed().length);
            return id;
          }),
      );
      // Nothing runs before the end of the turn.
      expect(committed()).toEqual([]);
      expect(await Promise.all(works)).toEqual([1, 2, 3]);
      expect(committed()).toEqual(['a', 'b', 'c']);
      // Every caller learns of its work only once all of it is on disk.
      expect(seenAtResolve).toEqual([3, 3, 3]);
      observer.close();
    });

    it('rolls back a failing work alone; the others commit', async () => {
      const { tx, insert, committed, observer } = setUp();
      const results = await Promise.allSettled([
        tx.grouped(() => insert.run('kept')),
        tx.grouped(() => {
          insert.run('half-written');
          throw new Error('this step failed');
        }),
        tx.grouped(() => insert.run('kept too')),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(results[1]).toMatchObject({ reason: new Error('this step failed') });
      expect(committed()).toEqual(['kept', 'kept too']);
      observer.close();
    });

    it('writes a page that many works touch once, not once per work', async () => {
      const { c, tx, observer } = setUp();
      c.sqlite.exec('CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0)');
      c.sqlite.pragma('wal_checkpoint(TRUNCATE)');
      const bump = c.sqlite.prepare('UPDATE counter SET n = n + 1');
      const walBytes = () => fs.statSync(`${c.sqlite.name}-wal`).size;
      const frame = 4096 + 24;

      const before = walBytes();
      await Promise.all(Array.from({ length: 50 }, () => tx.grouped(() => bump.run())));
      const grouped = walBytes() - before;
      for (let i = 0; i < 50; i += 1) tx.immediate(() => bump.run());
      const separate = walBytes() - before - grouped;

      expect(observer.prepare('SELECT n FROM counter').pluck().get()).toBe(100);
      expect(grouped).toBeLessThanOrEqual(4 * frame);
      expect(separate).toBeGreaterThanOrEqual(50 * frame);
      observer.close();
    });

    it('rejects the whole group when SQLite rolls the transaction back, and keeps deferred records', async () => {
      const { c, tx, insert, committed, observer } = setUp();
      tx.defer(() => insert.run('usage row'));
      const results = await Promise.allSettled([
        tx.grouped(() => insert.run('ran first')),
        tx.grouped(() => {
          // What SQLite does by itself on a full disk or an I/O error.
          c.sqlite.prepare('ROLLBACK').run();
          throw new Error('disk I/O error');
        }),
        tx.grouped(() => insert.run('never ran')),
      ]);
      expect(results).toEqual(
        Array.from({ length: 3 }, () => ({
          status: 'rejected',
          reason: new Error('disk I/O error'),
        })),
      );
      expect(committed()).toEqual([]);
      await tx.grouped(() => insert.run('next'));
      expect(committed()).toEqual(['usage row', 'next']);
      observer.close();
    });

    it('writes no deferred record outside the transaction when SQLite rolled it back under one', async () => {
      const { c, tx, insert, committed, observer } = setUp();
      let diskFails = true;
      tx.defer(() => {
        insert.run('usage row');
        if (diskFails) {
          diskFails = false;
          // What SQLite does by itself on an I/O error, with the record catching the error.
          c.sqlite.prepare('ROLLBACK').run();
        }
      });
      tx.defer(() => insert.run('second usage row'));
      await expect(tx.grouped(() => insert.run('the work'))).rejects.toThrow(
        'SQLite rolled the transaction back',
      );
      // Neither the record after it nor the work went in on its own, outside a transaction.
      expect(committed()).toEqual([]);
      // The records are kept and written with the next transaction, once each.
      await tx.grouped(() => insert.run('next'));
      expect(committed()).toEqual(['usage row', 'second usage row', 'next']);
      observer.close();
    });

    it(`commits at most ${MAX_GROUP} works together; the rest in the next commits`, async () => {
      const { tx, insert, committed, observer } = setUp();
      const count = MAX_GROUP * 2 + 3;
      const seenByFirstOfSecondGroup: number[] = [];
      await Promise.all(
        Array.from({ length: count }, (_, i) =>
          tx.grouped(() => {
            if (i === MAX_GROUP) seenByFirstOfSecondGroup.push(committed().length);
            insert.run(`n${i}`);
          }),
        ),
      );
      expect(seenByFirstOfSecondGroup).toEqual([MAX_GROUP]);
      expect(committed()).toHaveLength(count);
      observer.close();
    });

    it('lets other callbacks run between two groups of a burst', async () => {
      const { tx, insert, committed, observer } = setUp();
      const works = Array.from({ length: MAX_GROUP + 1 }, (_, i) =>
        tx.grouped(() => insert.run(`n${i}`)),
      );
      // Queued after the first group's commit, before the second group's.
      const seenBetween = new Promise((resolve) => setImmediate(() => resolve(committed().length)));
      expect(await seenBetween).toBe(MAX_GROUP);
      await Promise.all(works);
      expect(committed()).toHaveLength(MAX_GROUP + 1);
      observer.close();
    });

    it('still commits the groups after a failed one when flushed at shutdown, with the deferred records', async () => {
      const { c, tx, insert, committed, observer } = setUp();
      // A deferred foreign key is only checked at COMMIT: the first group's commit fails.
      c.sqlite.exec(`CREATE TABLE parents (id INTEGER PRIMARY KEY);
        CREATE TABLE children (parent INTEGER REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED)`);
      tx.defer(() => insert.run('usage row'));
      const firstGroup = [
        tx.grouped(() => c.sqlite.prepare('INSERT INTO children VALUES (42)').run()),
        ...Array.from({ length: MAX_GROUP - 1 }, () => tx.grouped(() => insert.run('rolled back'))),
      ];
      const secondGroup = [tx.grouped(() => insert.run('after the failed group'))];
      tx.flush();
      // The second group is on disk when flush() returns (the database closes right after it
      // at shutdown), with the deferred record the failed group could not write.
      expect(committed()).toEqual(['usage row', 'after the failed group']);
      const settled = await Promise.allSettled(firstGroup);
      expect(settled.every((r) => r.status === 'rejected')).toBe(true);
      await Promise.all(secondGroup);
      observer.close();
    });

    it('rejects every work when the commit itself fails, and writes none of them', async () => {
      const { c, tx, committed, observer, insert } = setUp();
      // A deferred foreign key is only checked at COMMIT.
      c.sqlite.exec(`CREATE TABLE parents (id INTEGER PRIMARY KEY);
        CREATE TABLE children (parent INTEGER REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED)`);
      const results = await Promise.allSettled([
        tx.grouped(() => insert.run('fine on its own')),
        tx.grouped(() => c.sqlite.prepare('INSERT INTO children VALUES (42)').run()),
      ]);
      expect(results).toEqual([
        {
          status: 'rejected',
          reason: expect.objectContaining({ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' }),
        },
        {
          status: 'rejected',
          reason: expect.objectContaining({ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' }),
        },
      ]);
      expect(committed()).toEqual([]);
      expect(c.sqlite.inTransaction).toBe(false);
      await tx.grouped(() => insert.run('next'));
      expect(committed()).toEqual(['next']);
      observer.close();
    });

    it('nests an immediate() called inside a work in that work', async () => {
      const { tx, insert, committed, observer } = setUp();
      const failed = tx.grouped(() => {
        // A usage row deferred inside the work must not be written in its rolled-back savepoint.
        tx.defer(() => insert.run('usage row'));
        tx.immediate(() => insert.run('claimed'));
        throw new Error('the step could not be stored');
      });
      await expect(failed).rejects.toThrow('the step could not be stored');
      // The claim went with the work; the usage row was kept and written on its own, on the
      // next turn of the event loop.
      expect(committed()).toEqual([]);
      await new Promise(setImmediate);
      expect(committed()).toEqual(['usage row']);
      await tx.grouped(() => tx.immediate(() => insert.run('claimed and stored')));
      expect(committed()).toEqual(['usage row', 'claimed and stored']);
      observer.close();
    });

    it('rejects every work of the group when the write lock stays taken, and runs none', async () => {
      const { c, tx, committed, observer, insert } = setUp({ SQLITE_BUSY_TIMEOUT_MS: '20' });
      const lock = await holdWriteLock(c.sqlite.name, 300);
      const results = await Promise.allSettled([
        tx.grouped(() => insert.run('one')),
        tx.grouped(() => insert.run('two')),
      ]);
      expect(results).toEqual([
        { status: 'rejected', reason: expect.objectContaining({ code: 'SQLITE_BUSY' }) },
        { status: 'rejected', reason: expect.objectContaining({ code: 'SQLITE_BUSY' }) },
      ]);
      await lock.released;
      await tx.grouped(() => insert.run('after'));
      expect(committed()).toEqual(['after']);
      observer.close();
    });

    it('rejects the later groups of a shutdown flush at once when the write lock stays taken', async () => {
      const { c, tx, insert, committed, observer } = setUp({ SQLITE_BUSY_TIMEOUT_MS: '40' });
      // Released after the first group gave up, while a second wait would still be running.
      const lock = await holdWriteLock(c.sqlite.name, 60);
      tx.defer(() => insert.run('usage row'));
      const works = Array.from({ length: MAX_GROUP + 1 }, (_, i) =>
        tx.grouped(() => insert.run(`n${i}`)),
      );
      // The deferred record could not be written: the caller hears of it.
      expect(() => tx.flush()).toThrow(expect.objectContaining({ code: 'SQLITE_BUSY' }));
      const settled = await Promise.allSettled(works);
      expect(settled.every((r) => r.status === 'rejected')).toBe(true);
      expect(settled[MAX_GROUP]).toMatchObject({ reason: { code: 'SQLITE_BUSY' } });
      await lock.released;
      // The deferred record is kept for the next transaction.
      await tx.grouped(() => insert.run('after'));
      expect(committed()).toEqual(['usage row', 'after']);
      observer.close();
    });

    it('waits for a transaction left open instead of committing inside it', async () => {
      const { c, tx, insert, committed, observer } = setUp();
      c.sqlite.exec('BEGIN IMMEDIATE');
      let settled = false;
      const work = tx
        .grouped(() => insert.run('after the open transaction'))
        .then(() => {
          settled = true;
        });
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(settled).toBe(false);
      c.sqlite.exec('ROLLBACK');
      await work;
      expect(committed()).toEqual(['after the open transaction']);
      observer.close();
    });

    it('refuses to flush from inside a transaction (the group would not be committed there)', async () => {
      const { tx, insert, committed, observer } = setUp();
      const queued = tx.grouped(() => insert.run('queued'));
      expect(() => tx.immediate(() => tx.flush())).toThrow(
        'flush() was called inside a transaction',
      );
      await queued;
      expect(committed()).toEqual(['queued']);
      observer.close();
    });

    it('runs queued works when flushed (shutdown) and rejects works once the database closed', async () => {
      const { c, tx, insert, committed, observer } = setUp();
      const queued = tx.grouped(() => insert.run('flushed at shutdown'));
      tx.flush();
      expect(committed()).toEqual(['flushed at shutdown']);
      await queued;
      const late = tx.grouped(() => insert.run('too late'));
      c.sqlite.close();
      await expect(late).rejects.toThrow('the database is closed');
      observer.close();
    });
  });

  describe('WAL checkpoints from a worker thread (WalCheckpointer)', () => {
    const autocheckpoint = (c: Connection) =>
      c.sqlite.pragma('wal_autocheckpoint', { simple: true });
    const walPages = (c: Connection) => fs.statSync(`${c.sqlite.name}-wal`).size / (4096 + 24);

    /** `commits` transactions of `rowsPerCommit` rows of about one page each, yielding between. */
    async function writePages(c: Connection, commits: number, rowsPerCommit: number) {
      c.sqlite.exec('CREATE TABLE IF NOT EXISTS pages (body TEXT NOT NULL)');
      const insert = c.sqlite.prepare('INSERT INTO pages (body) VALUES (?)');
      const body = 'x'.repeat(3500);
      let largestWal = 0;
      for (let i = 0; i < commits; i += 1) {
        c.sqlite.transaction(() => {
          for (let r = 0; r < rowsPerCommit; r += 1) insert.run(body);
        })();
        largestWal = Math.max(largestWal, walPages(c));
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      return largestWal;
    }

    it('keeps the WAL short while the writing connection never checkpoints', async () => {
      const c = connect();
      const failures: string[] = [];
      const checkpointer = WalCheckpointer.start(c.sqlite, {
        intervalMs: 5,
        restartPages: 400,
        onFailure: (reason) => failures.push(reason),
      });
      try {
        // The writer checkpoints only past 2.5 × 400 pages; 4,000 pages go past that.
        expect(autocheckpoint(c)).toBe(400 * BACKSTOP_FACTOR);
        const largestWal = await writePages(c, 400, 10);
        expect(c.sqlite.prepare('SELECT count(*) FROM pages').pluck().get()).toBe(4000);
        // Without the thread the WAL would grow to the writer's threshold (1,000 pages).
        expect(largestWal).toBeLessThan(800);
        expect(failures).toEqual([]);
      } finally {
        await checkpointer.stop();
      }
      // Stopped: the writer checkpoints by itself again, at SQLite's default.
      expect(autocheckpoint(c)).toBe(SQLITE_DEFAULT_AUTOCHECKPOINT);
      // Every row is in the main file once the WAL is folded back.
      c.sqlite.pragma('wal_checkpoint(TRUNCATE)');
      c.sqlite.close();
      const reopened = new Database(path.join(path.dirname(c.sqlite.name), 'broski.db'), {
        readonly: true,
      });
      expect(reopened.prepare('SELECT count(*) FROM pages').pluck().get()).toBe(4000);
      reopened.close();
    });

    it('hands checkpoints back to the writer and says why when the thread fails', async () => {
      const c = connect();
      // The thread opens the file by its name: moved away, it cannot.
      fs.renameSync(c.sqlite.name, `${c.sqlite.name}.moved`);
      const failures: string[] = [];
      let failed!: () => void;
      const told = new Promise<void>((resolve) => (failed = resolve));
      const checkpointer = WalCheckpointer.start(c.sqlite, {
        intervalMs: 5,
        onFailure: (reason) => {
          failures.push(reason);
          failed();
        },
      });
      await told;
      fs.renameSync(`${c.sqlite.name}.moved`, c.sqlite.name);
      await checkpointer.stop();
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatch(/unable to open database file|does not exist/i);
      expect(autocheckpoint(c)).toBe(SQLITE_DEFAULT_AUTOCHECKPOINT);
      // The connection itself goes on writing.
      await writePages(c, 3, 2);
    });

    it('keeps a process that has nothing else to do alive until the thread has stopped', () => {
      ensureBuilt();
      const c = connect();
      c.sqlite.close();
      // Nothing but the (unref'd) thread is left when stop() is awaited: what follows must run.
      const script = `
        const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
        const { WalCheckpointer } = require(${JSON.stringify(path.join(ROOT, 'dist/modules/database/wal-checkpointer.js'))});
        const db = new Database(${JSON.stringify(c.sqlite.name)});
        const checkpointer = WalCheckpointer.start(db, { intervalMs: 5, onFailure: () => {} });
        setTimeout(async () => {
          await checkpointer.stop();
          db.close();
          process.stdout.write('closed after the thread');
        }, 50);`;
      const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
      expect(out).toBe('closed after the thread');
    });

    it('runs in every process on a database file, unless SQLITE_CHECKPOINT_INTERVAL_MS=0', async () => {
      const withThread = testConfig();
      const withoutThread = testConfig({ SQLITE_CHECKPOINT_INTERVAL_MS: '0' });
      dirs.push(withThread.dir, withoutThread.dir);
      for (const [config, expected] of [
        [withThread, RESTART_AFTER_PAGES * BACKSTOP_FACTOR],
        [withoutThread, SQLITE_DEFAULT_AUTOCHECKPOINT],
      ] as const) {
        const app = await startTestApp(config);
        try {
          const sqlite = app.app.get<Database.Database>(SQLITE);
          expect(sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(expected);
        } finally {
          await app.close();
        }
        // A clean shutdown stops the thread and still folds the WAL back into the main file.
        expect(
          fs.statSync(`${config.database.path}-wal`, { throwIfNoEntry: false })?.size ?? 0,
        ).toBe(0);
      }
    });
  });
});
