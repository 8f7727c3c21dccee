import { Test } from '@nestjs/testing';
import * as fs from 'node:fs';
import { z } from 'zod';
import type { AppConfig } from '../../../src/config/app-config';
import { ConfigModule } from '../../../src/config/config.module';
import { newId, nowIso } from '../../../src/common/ids';
import { LoggingModule } from '../../../src/common/logging/logging.module';
import { DatabaseModule } from '../../../src/modules/database/database.module';
import { DRIZZLE, type Db } from '../../../src/modules/database/database.tokens';
import { Transactor } from '../../../src/modules/database/transactor';
import { LlmCallsRepository } from '../../../src/modules/llm/llm-calls.repository';
import type { LlmCallRow } from '../../../src/modules/llm/llm-calls.table';
import { LlmModule } from '../../../src/modules/llm/llm.module';
import { LlmService } from '../../../src/modules/llm/llm.service';
import { LlmError } from '../../../src/modules/llm/llm.types';
import { workflows } from '../../../src/modules/workflows/workflows.table';
import { testConfig } from '../../helpers/config';
import { planSchema } from '../../helpers/plan-schema';

/** The reads of LlmCallsRepository the tests use. */
type CallReads = Pick<
  LlmCallsRepository,
  'listByWorkflow' | 'usageByWorkflow' | 'usageByTask' | 'usageTotalsByWorkflows'
>;

export interface LlmTestContext {
  config: AppConfig;
  llm: LlmService;
  /**
   * llm_calls as a later transaction sees them: LlmService records a call with the next
   * transaction (Transactor.defer), so each read first writes what is still waiting.
   */
  calls: CallReads;
  /** Creates a workflow row (llm_calls rows reference one) and returns its id. */
  newWorkflow(): string;
  close(): Promise<void>;
}

/** The real LlmModule (with config, pino and a migrated SQLite file) as the platform wires it. */
export async function createLlmTestContext(env: Record<string, string>): Promise<LlmTestContext> {
  const config = testConfig(env);
  const moduleRef = await Test.createTestingModule({
    imports: [
      ConfigModule.forRoot(config),
      LoggingModule.forRoot('cli'),
      DatabaseModule,
      LlmModule,
    ],
  }).compile();
  await moduleRef.init();
  const db = moduleRef.get<Db>(DRIZZLE);
  const repository = moduleRef.get(LlmCallsRepository);
  const tx = moduleRef.get(Transactor);
  const calls: CallReads = {
    listByWorkflow: (id) => (tx.flush(), repository.listByWorkflow(id)),
    usageByWorkflow: (id) => (tx.flush(), repository.usageByWorkflow(id)),
    usageByTask: (id) => (tx.flush(), repository.usageByTask(id)),
    usageTotalsByWorkflows: (ids) => (tx.flush(), repository.usageTotalsByWorkflows(ids)),
  };
  return {
    config,
    llm: moduleRef.get(LlmService),
    calls,
    newWorkflow: () => {
      const id = newId();
      const now = nowIso();
      db.insert(workflows)
        .values({ id, userRequest: 'test request', createdAt: now, updatedAt: now })
        .run();
      return id;
    },
    close: async () => {
      await moduleRef.close();
      fs.rmSync(config.dir, { recursive: true, force: true });
    },
  };
}

export { planSchema };

export const samplePlan: z.infer<typeof planSchema> = {
  steps: [
    {
      key: 'research',
      title: 'Research bakeries',
      agentType: 'researcher',
      instructions: 'Find out what bakery customers want.',
      dependsOn: [],
    },
    {
      key: 'build',
      title: 'Build the page',
      agentType: 'coder',
      instructions: 'Write the HTML.',
      dependsOn: ['research'],
    },
  ],
};

/** A step call for `workflowId`, with the given model. */
export function stepRequest(model: string, workflowId: string, signal?: AbortSignal) {
  return {
    model,
    system: 'You are the writer.',
    prompt: 'Write a tagline for a bakery.',
    temperature: 0.7,
    maxOutputTokens: 256,
    context: {
      purpose: 'step' as const,
      request: 'Write a tagline for a bakery',
      agentType: 'writer',
      title: 'Write the tagline',
      instructions: 'One line, warm.',
      dependencies: [],
    },
    owner: { workflowId, taskId: 'task-1', agentType: 'writer' },
    signal,
  };
}

/** A plan call (with the plan schema) for `workflowId`. */
export function planRequest(model: string, workflowId: string) {
  return {
    model,
    system: 'You are the orchestrator.',
    prompt: 'Plan: build a landing page for a bakery.',
    schema: planSchema,
    context: {
      purpose: 'plan' as const,
      request: 'Build a landing page for a bakery',
      agents: [
        { type: 'researcher', name: 'Researcher', description: 'Finds facts' },
        { type: 'coder', name: 'Coder', description: 'Writes code' },
      ],
      maxSteps: 12,
    },
    owner: { workflowId, taskId: null, agentType: 'orchestrator' },
  };
}

/** Runs `promise`, expecting an LlmError; returns it. */
export async function llmError(promise: Promise<unknown>): Promise<LlmError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof LlmError) return error;
    throw error;
  }
  throw new Error('expected an LlmError, but the call succeeded');
}

/** Each recorded call as `ok` or `error:<code>`, in order. */
export function outcomes(rows: LlmCallRow[]): string[] {
  return rows.map((row) =>
    row.status === 'ok' ? 'ok' : `error:${(row.error ?? '').split(':')[0] ?? ''}`,
  );
}

/** Runs `fn`, expecting it to throw an LlmError synchronously; returns it. */
export function thrownLlmError(fn: () => unknown): LlmError {
  try {
    fn();
  } catch (error) {
    if (error instanceof LlmError) return error;
    throw error;
  }
  throw new Error('expected an LlmError to be thrown');
}
