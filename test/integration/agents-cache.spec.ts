import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../../src/config/app-config';
import { newId, nowIso } from '../../src/common/ids';
import { AgentsRepository } from '../../src/modules/agents/agents.repository';
import {
  openDatabase,
  runMigrations,
  type Connection,
} from '../../src/modules/database/connection';
import { Transactor } from '../../src/modules/database/transactor';
import { tempDir } from '../helpers/config';

/**
 * The agents repository keeps the rows it read until the database changes. Two connections to
 * one file stand for two processes (an API that edits agents, a worker that runs steps).
 */
describe('agent rows kept between reads (AgentsRepository)', () => {
  let dir: string;
  let api: Connection;
  let worker: Connection;
  let apiAgents: AgentsRepository;
  let workerAgents: AgentsRepository;

  /** A new active agent, written through the given connection's repository. */
  function addAgent(repository: AgentsRepository, type: string, name: string, prompt: string) {
    const now = nowIso();
    repository.insert({
      id: newId(),
      type,
      name,
      systemPrompt: prompt,
      createdAt: now,
      updatedAt: now,
    });
  }

  beforeEach(() => {
    dir = tempDir('broski-agents-');
    const config = loadConfig({ DATABASE_PATH: path.join(dir, 'broski.db') });
    api = openDatabase(config.database);
    runMigrations(api);
    worker = openDatabase(config.database);
    apiAgents = new AgentsRepository(api.db);
    workerAgents = new AgentsRepository(worker.db);
    addAgent(apiAgents, 'translator', 'Translator', 'Translate faithfully.');
  });

  afterEach(() => {
    api.sqlite.close();
    worker.sqlite.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sees an edit made through another connection on its next read', () => {
    expect(workerAgents.findByType('translator')?.systemPrompt).toBe('Translate faithfully.');
    apiAgents.update('translator', { systemPrompt: 'Translate into plain English.' }, nowIso());
    expect(workerAgents.findByType('translator')).toMatchObject({
      systemPrompt: 'Translate into plain English.',
      version: 2,
    });
  });

  it('sees an agent disabled or created elsewhere in the active catalogue', () => {
    expect(workerAgents.listActive().map((a) => a.type)).toEqual(['translator']);
    expect(workerAgents.findByType('summarizer')).toBeUndefined();
    apiAgents.update('translator', { status: 'disabled' }, nowIso());
    expect(workerAgents.listActive()).toEqual([]);
    addAgent(apiAgents, 'summarizer', 'Summarizer', 'Summarize.');
    expect(workerAgents.findByType('summarizer')?.name).toBe('Summarizer');
    expect(workerAgents.listActive().map((a) => a.type)).toEqual(['summarizer']);
  });

  it("sees its own connection's edits at once", () => {
    expect(workerAgents.findByType('translator')?.name).toBe('Translator');
    workerAgents.update('translator', { name: 'Senior translator' }, nowIso());
    expect(workerAgents.findByType('translator')?.name).toBe('Senior translator');
  });

  it('answers a repeated read from memory while no other connection has committed', () => {
    expect(workerAgents.findByType('translator')?.name).toBe('Translator');
    // Behind the repository's back on its own connection (which does not change data_version).
    worker.sqlite
      .prepare("UPDATE agents SET name = 'Changed underneath' WHERE type = ?")
      .run('translator');
    expect(workerAgents.findByType('translator')?.name).toBe('Translator');
    // A commit of another connection makes the next read go to SQLite.
    api.sqlite
      .prepare("UPDATE agents SET description = 'Edited elsewhere' WHERE type = ?")
      .run('translator');
    expect(workerAgents.findByType('translator')).toMatchObject({
      name: 'Changed underneath',
      description: 'Edited elsewhere',
    });
  });

  it('finds an agent created on its own connection after asking for it in vain', () => {
    expect(workerAgents.findByType('summarizer')).toBeUndefined();
    expect(workerAgents.listActive().map((a) => a.type)).toEqual(['translator']);
    addAgent(workerAgents, 'summarizer', 'Summarizer', 'Summarize.');
    expect(workerAgents.findByType('summarizer')?.name).toBe('Summarizer');
    expect(workerAgents.listActive().map((a) => a.type)).toEqual(['translator', 'summarizer']);
  });

  it('keeps nothing read inside a transaction that is rolled back', () => {
    const tx = new Transactor(worker.sqlite);
    expect(() =>
      tx.immediate(() => {
        workerAgents.update('translator', { name: 'Never committed' }, nowIso());
        expect(workerAgents.findByType('translator')?.name).toBe('Never committed');
        throw new Error('the transaction fails');
      }),
    ).toThrow('the transaction fails');
    expect(workerAgents.findByType('translator')?.name).toBe('Translator');
  });

  it('hands out rows that cannot be changed by the caller', () => {
    const row = workerAgents.findByType('translator');
    expect(row).toBeDefined();
    expect(Object.isFrozen(row)).toBe(true);
    expect(Object.isFrozen(workerAgents.listActive())).toBe(true);
  });
});
