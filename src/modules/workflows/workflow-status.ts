import { DomainError, ErrorCode } from '../../common/domain-error';

export const WORKFLOW_STATUSES = [
  'pending',
  'planning',
  'awaiting_approval',
  'running',
  'completed',
  'failed',
  'cancelled',
] as const;
export type WorkflowStatus = (typeof WORKFLOW_STATUSES)[number];

export const TASK_STATUSES = [
  'pending',
  'queued',
  'running',
  'completed',
  'failed',
  'cancelled',
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/**
 * The status machines (ARCHITECTURE §4). Every status change in the code goes through
 * `workflowFrom`/`taskFrom` so the repositories can apply it as a conditional update: a row only
 * moves when its current status is one the machine allows, which also settles races between
 * processes (the loser updates nothing).
 */
const WORKFLOW_TRANSITIONS: Record<WorkflowStatus, readonly WorkflowStatus[]> = {
  pending: ['planning', 'cancelled', 'failed'],
  planning: ['awaiting_approval', 'running', 'failed', 'cancelled', 'pending'],
  awaiting_approval: ['running', 'cancelled'],
  running: ['completed', 'failed', 'cancelled'],
  completed: [],
  failed: ['running', 'pending'],
  cancelled: [],
};

const TASK_TRANSITIONS: Record<TaskStatus, readonly TaskStatus[]> = {
  pending: ['queued', 'cancelled'],
  queued: ['running', 'cancelled', 'pending'],
  running: ['running', 'completed', 'failed', 'queued', 'cancelled'],
  completed: [],
  failed: ['pending'],
  cancelled: ['pending'],
};

export const TERMINAL_WORKFLOW_STATUSES: readonly WorkflowStatus[] = [
  'completed',
  'failed',
  'cancelled',
];
export const TERMINAL_TASK_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'cancelled'];

export function isTerminalWorkflow(status: WorkflowStatus): boolean {
  return TERMINAL_WORKFLOW_STATUSES.includes(status);
}

export function isTerminalTask(status: TaskStatus): boolean {
  return TERMINAL_TASK_STATUSES.includes(status);
}

function sourcesOf<S extends string>(
  all: readonly S[],
  machine: Record<S, readonly S[]>,
  to: S,
): S[] {
  return all.filter((from) => machine[from].includes(to));
}

/** The statuses from which a workflow may move to `to`. */
export function workflowFrom(to: WorkflowStatus): WorkflowStatus[] {
  return sourcesOf(WORKFLOW_STATUSES, WORKFLOW_TRANSITIONS, to);
}

/** The statuses from which a task may move to `to`. */
export function taskFrom(to: TaskStatus): TaskStatus[] {
  return sourcesOf(TASK_STATUSES, TASK_TRANSITIONS, to);
}

export function canMoveWorkflow(from: WorkflowStatus, to: WorkflowStatus): boolean {
  return WORKFLOW_TRANSITIONS[from].includes(to);
}

export function canMoveTask(from: TaskStatus, to: TaskStatus): boolean {
  return TASK_TRANSITIONS[from].includes(to);
}

/** Throws the 409 problem for a user action the current status does not allow. */
export function assertWorkflowAction(
  action: string,
  current: WorkflowStatus,
  allowedFrom: readonly WorkflowStatus[],
): void {
  if (!allowedFrom.includes(current)) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `Cannot ${action} a workflow that is ${current}; allowed only when ${allowedFrom.join(' or ')}`,
    );
  }
}
