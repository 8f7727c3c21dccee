import { Module, type DynamicModule, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventEmitter, once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { ZodError } from 'zod';
import { CoreModule } from '../../../app/core.module';
import { DomainError } from '../../../common/domain-error';
import { ROOT_LOGGER } from '../../../common/logging/logging.module';
import { toProblem } from '../../../common/http/problem';
import type { Page } from '../../../common/pagination';
import type { AppConfig } from '../../../config/app-config';
import type {
  Agent,
  CreateAgentInput,
  ListAgentsQuery,
  UpdateAgentInput,
} from '../../agents/agents.contract';
import { ApiKeysService, type ApiKeyInfo } from '../../access/api-keys.service';
import { AgentsService } from '../../agents/agents.service';
import { OrchestratorProcessorModule } from '../../orchestrator/orchestrator-processor.module';
import { OrchestratorService } from '../../orchestrator/orchestrator.service';
import { WorkflowSignals } from '../../orchestrator/workflow-signals';
import { TERMINAL_EVENT_TYPES } from '../../workflows/workflow-event-types';
import type {
  ListWorkflowsQuery,
  SubmitWorkflowInput,
  Workflow,
  WorkflowDetail,
  WorkflowEvent,
} from '../../workflows/workflows.contract';
import { WorkflowsService } from '../../workflows/workflows.service';
import { ApiError } from '../cli-errors';
import type { BroskiClient, EventPageQuery } from './broski-client';

/** How long a run of jobs may take to finish when the CLI closes (Ctrl-C included). */
const CLI_SHUTDOWN_GRACE_MS = 500;
const POLL_MS = 250;
const EVENT_BATCH = 500;

/** The CLI's in-process root: the shared core, plus the job processors when it runs work. */
@Module({})
export class InProcessCliModule {
  static forRoot(config: AppConfig, execute: boolean): DynamicModule {
    return {
      module: InProcessCliModule,
      imports: [
        CoreModule.forRoot(config, 'cli'),
        ...(execute ? [OrchestratorProcessorModule] : []),
      ],
    };
  }
}

export interface InProcessOptions {
  /**
   * Run workflows in this process (job processors, resuming unfinished work at start). Commands
   * that only read or change state leave it off, so they never pick up work they cannot finish.
   */
  execute: boolean;
  /** Pass LOG_LEVEL through to stderr instead of keeping it at warn. */
  verbose: boolean;
  /**
   * A live view is drawn on the terminal: only errors reach stderr (warnings would break the
   * redrawn lines; the view shows failures and retries anyway).
   */
  liveView: boolean;
}

interface Services {
  orchestrator: OrchestratorService;
  workflows: WorkflowsService;
  agents: AgentsService;
  signals: WorkflowSignals;
  keys: ApiKeysService;
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/**
 * The configuration of the CLI's own application context: a short shutdown grace (Ctrl-C hands running steps back at once, to be
 * resumed later), and a quiet terminal — logs go to LOG_FILE when set, else to stderr at warn
 * (error under a live view).
 */
export function inProcessConfig(
  config: AppConfig,
  options: Pick<InProcessOptions, 'verbose' | 'liveView'>,
): AppConfig {
  const toFile = config.log.file !== undefined;
  const floor = options.liveView ? 'error' : 'warn';
  const quieter = LEVELS.indexOf(config.log.level) > LEVELS.indexOf(floor);
  const level = toFile || options.verbose || quieter ? config.log.level : floor;
  return {
    ...config,
    log: {
      ...config.log,
      level,
      pretty: false,
    },
    queue: {
      ...config.queue,
      queues: ['workflows', 'tasks'],
      shutdownGraceMs: Math.min(config.queue.shutdownGraceMs, CLI_SHUTDOWN_GRACE_MS),
    },
  };
}

/**
 * The services of the shared core, called in this process on the local database. The Nest
 * application context is built on first use and closed by `close()`, so the process can exit.
 */
export class InProcessClient implements BroskiClient {
  readonly mode = 'in-process' as const;
  readonly target: string;
  /**
   * With the inline queue this process runs what it follows (job processors, resuming unfinished
   * work at start). With BullMQ (REDIS_URL) the workers do: this process only enqueues and reads.
   */
  readonly runsWorkflows: boolean;
  private app: INestApplicationContext | undefined;
  private services: Services | undefined;
  private starting: Promise<Services> | undefined;

  constructor(
    private readonly config: AppConfig,
    private readonly options: InProcessOptions,
  ) {
    this.target = config.database.path;
    this.runsWorkflows = config.queue.driver === 'inline';
  }

  submit(input: SubmitWorkflowInput): Promise<WorkflowDetail> {
    return this.call(async (s) => (await s.orchestrator.submit(input)).workflow);
  }

  listWorkflows(query: ListWorkflowsQuery): Promise<Page<Workflow>> {
    return this.call(async (s) => s.workflows.list(query));
  }

  getWorkflow(id: string): Promise<WorkflowDetail> {
    return this.call(async (s) => s.workflows.getDetail(id));
  }

  listEvents(id: string, query: EventPageQuery): Promise<Page<WorkflowEvent>> {
    return this.call(async (s) => s.workflows.listEvents(id, query));
  }

  async *followEvents(
    id: string,
    after: number,
    signal: AbortSignal,
  ): AsyncGenerator<WorkflowEvent> {
    const s = await this.call(async (services) => {
      services.workflows.getRow(id);
      return services;
    });
    let cursor = after;
    while (!signal.aborted) {
      const events = s.workflows.eventsAfter(id, cursor, EVENT_BATCH);
      for (const event of events) {
        cursor = event.id;
        yield event;
        if (TERMINAL_EVENT_TYPES.includes(event.type)) return;
      }
      if (events.length === EVENT_BATCH) continue;
      // Woken at once by this process's own writes; other processes' writes are polled for.
      await s.signals.wait(id, POLL_MS, signal);
    }
  }

  cancel(id: string): Promise<WorkflowDetail> {
    return this.call((s) => s.orchestrator.cancel(id));
  }

  approve(id: string): Promise<WorkflowDetail> {
    return this.call((s) => s.orchestrator.approve(id));
  }

  reject(id: string): Promise<WorkflowDetail> {
    return this.call((s) => s.orchestrator.reject(id));
  }

  retry(id: string): Promise<WorkflowDetail> {
    return this.call((s) => s.orchestrator.retry(id));
  }

  listAgents(query: ListAgentsQuery): Promise<Page<Agent>> {
    return this.call(async (s) => s.agents.list(query));
  }

  getAgent(type: string): Promise<Agent> {
    return this.call(async (s) => s.agents.get(type));
  }

  createAgent(input: CreateAgentInput): Promise<Agent> {
    return this.call(async (s) => s.agents.create(input));
  }

  updateAgent(type: string, input: UpdateAgentInput): Promise<Agent> {
    return this.call(async (s) => s.agents.update(type, input));
  }

  disableAgent(type: string): Promise<Agent> {
    return this.call(async (s) => s.agents.disable(type));
  }

  // API keys live in the server's database and have no API: `broski keys` manages them here.

  createApiKey(name: string): Promise<{ key: string; info: ApiKeyInfo }> {
    return this.call(async (s) => s.keys.create(name));
  }

  listApiKeys(): Promise<ApiKeyInfo[]> {
    return this.call(async (s) => s.keys.list());
  }

  revokeApiKey(id: string): Promise<ApiKeyInfo> {
    return this.call(async (s) => s.keys.revoke(id));
  }

  /** Stops the processors (running steps are handed back, to be resumed) and closes the database. */
  async close(): Promise<void> {
    if (this.starting !== undefined) await this.starting.catch(() => undefined);
    const app = this.app;
    this.app = undefined;
    this.services = undefined;
    this.starting = undefined;
    if (app === undefined) return;
    await app.close();
    await logFileOpened(app);
  }

  private async call<T>(fn: (services: Services) => Promise<T>): Promise<T> {
    const services = await this.start();
    try {
      return await fn(services);
    } catch (error) {
      throw asApiError(error);
    }
  }

  private start(): Promise<Services> {
    if (this.services !== undefined) return Promise.resolve(this.services);
    this.starting ??= this.boot();
    return this.starting;
  }

  private async boot(): Promise<Services> {
    const config = inProcessConfig(this.config, this.options);
    const app = await NestFactory.createApplicationContext(
      InProcessCliModule.forRoot(config, this.options.execute && this.runsWorkflows),
      { logger: false, abortOnError: false },
    );
    this.app = app;
    await app.init();
    this.services = {
      orchestrator: app.get(OrchestratorService),
      workflows: app.get(WorkflowsService),
      agents: app.get(AgentsService),
      signals: app.get(WorkflowSignals),
      keys: app.get(ApiKeysService),
    };
    return this.services;
  }
}

function isEmitter(value: unknown): value is EventEmitter {
  return value instanceof EventEmitter;
}

/**
 * pino opens the log file asynchronously and flushes it synchronously when the process exits;
 * a short in-process command may never have yielded to the event loop in between, so the file
 * is not open yet and the exit would throw ("sonic boom is not ready yet"). Waits for it.
 */
async function logFileOpened(app: INestApplicationContext): Promise<void> {
  const root = app.get<pino.Logger>(ROOT_LOGGER, { strict: false });
  const destination: unknown = Reflect.get(root, pino.symbols.streamSym);
  if (!isEmitter(destination)) return;
  const fd: unknown = Reflect.get(destination, 'fd');
  if (typeof fd === 'number' && fd < 0) {
    const timeout = new AbortController();
    await Promise.race([
      once(destination, 'ready', { signal: timeout.signal }).catch(() => undefined),
      sleep(2000, undefined, { signal: timeout.signal }).catch(() => undefined),
    ]);
    timeout.abort();
  }
}

/** Domain and validation errors become the same typed errors the HTTP client raises. */
function asApiError(error: unknown): unknown {
  if (!(error instanceof DomainError) && !(error instanceof ZodError)) return error;
  const { status, body } = toProblem(error, {});
  return new ApiError(status, body.code, body.detail, body.errors ?? []);
}
