import type { Page } from '../../../common/pagination';
import type {
  Agent,
  CreateAgentInput,
  ListAgentsQuery,
  UpdateAgentInput,
} from '../../agents/agents.contract';
import type {
  ListWorkflowsQuery,
  SubmitWorkflowInput,
  Workflow,
  WorkflowDetail,
  WorkflowEvent,
} from '../../workflows/workflows.contract';

export type ClientMode = 'in-process' | 'http';

export interface EventPageQuery {
  after?: number;
  limit: number;
}

/**
 * What every CLI command talks to. Two implementations: `InProcessClient` (the services on the
 * local database, running workflows in this process) and `HttpClient` (a Broski server over the
 * versioned API). Inputs are already parsed with the contract schemas; answers are contract
 * shapes; refusals are `ApiError`s, an unreachable server an `UnreachableError`.
 */
export interface BroskiClient {
  readonly mode: ClientMode;
  /** Where the data lives, for messages: the database file or the server URL. */
  readonly target: string;
  /**
   * True when this process runs the workflows it follows (in-process with the inline queue):
   * then nothing runs them while no CLI follows them and no server or worker processes them.
   */
  readonly runsWorkflows: boolean;

  submit(input: SubmitWorkflowInput): Promise<WorkflowDetail>;
  listWorkflows(query: ListWorkflowsQuery): Promise<Page<Workflow>>;
  getWorkflow(id: string): Promise<WorkflowDetail>;
  listEvents(id: string, query: EventPageQuery): Promise<Page<WorkflowEvent>>;
  /**
   * The workflow's events after `after`, live: stored ones first, then new ones as they happen,
   * ending after the terminal event or when `signal` aborts.
   */
  followEvents(id: string, after: number, signal: AbortSignal): AsyncIterable<WorkflowEvent>;
  cancel(id: string): Promise<WorkflowDetail>;
  approve(id: string): Promise<WorkflowDetail>;
  reject(id: string): Promise<WorkflowDetail>;
  retry(id: string): Promise<WorkflowDetail>;

  listAgents(query: ListAgentsQuery): Promise<Page<Agent>>;
  getAgent(type: string): Promise<Agent>;
  createAgent(input: CreateAgentInput): Promise<Agent>;
  updateAgent(type: string, input: UpdateAgentInput): Promise<Agent>;
  disableAgent(type: string): Promise<Agent>;

  /** Releases what the client holds (the in-process application context, its database). */
  close(): Promise<void>;
}
