import { z } from 'zod';
import type { Task, WorkflowEvent } from '../../workflows/workflows.contract';

export type StepStatus =
  'pending' | 'queued' | 'running' | 'retrying' | 'completed' | 'failed' | 'cancelled';

export type Phase =
  | 'submitted'
  | 'planning'
  | 'awaiting_approval'
  | 'running'
  | 'finalizing'
  | 'completed'
  | 'failed'
  | 'cancelled';

export interface StepProgress {
  key: string;
  title: string;
  agentType: string;
  dependsOn: string[];
  status: StepStatus;
  attempt: number;
  /** Epoch ms (from the events' timestamps). */
  startedAt: number | undefined;
  finishedAt: number | undefined;
  /** Why it retries, failed or was cancelled. */
  note: string | undefined;
}

/** What the live view shows, built only from the workflow's events (plus the plan's titles). */
export interface WorkflowProgress {
  id: string;
  phase: Phase;
  createdAt: number | undefined;
  planningAt: number | undefined;
  plannedAt: number | undefined;
  finalizingAt: number | undefined;
  finishedAt: number | undefined;
  steps: StepProgress[];
  /** The terminal event's message. */
  message: string | undefined;
  lastEventId: number;
}

const keyData = z.object({ key: z.string() });
const attemptData = z.object({ attempt: z.number().int() });
const errorData = z.object({ error: z.object({ message: z.string() }) });
const retryData = z.object({ retry: z.literal(true) });
const plannedData = z.object({
  steps: z.array(
    z.object({ key: z.string(), agentType: z.string(), dependsOn: z.array(z.string()) }),
  ),
});

export function newProgress(id: string): WorkflowProgress {
  return {
    id,
    phase: 'submitted',
    createdAt: undefined,
    planningAt: undefined,
    plannedAt: undefined,
    finalizingAt: undefined,
    finishedAt: undefined,
    steps: [],
    message: undefined,
    lastEventId: 0,
  };
}

/** Folds one event into the view (events arrive in id order; a replayed one is ignored). */
export function applyEvent(progress: WorkflowProgress, event: WorkflowEvent): void {
  if (event.id <= progress.lastEventId) return;
  progress.lastEventId = event.id;
  const at = Date.parse(event.createdAt);
  switch (event.type) {
    case 'workflow.created':
      progress.createdAt ??= at;
      if (retryData.safeParse(event.data).success) {
        // Retried before it was ever planned: it plans again from scratch.
        Object.assign(progress, { phase: 'submitted', steps: [], finishedAt: undefined });
        progress.message = undefined;
      }
      return;
    case 'workflow.planning':
      progress.phase = 'planning';
      progress.planningAt = at;
      return;
    case 'workflow.planned':
      progress.plannedAt = at;
      setPlannedSteps(progress, event.data);
      return;
    case 'workflow.awaiting_approval':
      progress.phase = 'awaiting_approval';
      return;
    case 'workflow.approved':
    case 'workflow.rejected':
      return;
    case 'workflow.started':
      progress.phase = 'running';
      if (retryData.safeParse(event.data).success) resetUnfinished(progress);
      return;
    case 'task.queued':
      updateStep(progress, event, (step) => {
        step.status = 'queued';
      });
      return;
    case 'task.started':
      updateStep(progress, event, (step) => {
        const attempt = attemptData.safeParse(event.data);
        step.status = 'running';
        step.attempt = attempt.success ? attempt.data.attempt : step.attempt + 1;
        step.startedAt = at;
        step.finishedAt = undefined;
      });
      return;
    case 'task.retrying':
      updateStep(progress, event, (step) => {
        step.status = 'retrying';
        step.note = errorMessage(event);
      });
      return;
    case 'task.completed':
      updateStep(progress, event, (step) => {
        step.status = 'completed';
        step.finishedAt = at;
        step.note = undefined;
      });
      if (progress.steps.length > 0 && progress.steps.every((s) => s.status === 'completed')) {
        progress.phase = 'finalizing';
        progress.finalizingAt = at;
      }
      return;
    case 'task.failed':
      updateStep(progress, event, (step) => {
        step.status = 'failed';
        step.finishedAt = at;
        step.note = errorMessage(event);
      });
      return;
    case 'task.cancelled':
      updateStep(progress, event, (step) => {
        step.status = 'cancelled';
        step.finishedAt = at;
        step.note = undefined;
      });
      return;
    case 'workflow.completed':
      return finish(progress, 'completed', at, event.message);
    case 'workflow.failed':
      return finish(progress, 'failed', at, event.message);
    case 'workflow.cancelled':
      return finish(progress, 'cancelled', at, event.message);
  }
}

/** Adds the plan's titles (the planned event carries only keys, agent types and dependencies). */
export function applyTasks(progress: WorkflowProgress, tasks: readonly Task[]): void {
  for (const task of tasks) {
    const step = progress.steps.find((s) => s.key === task.key);
    if (step === undefined) {
      progress.steps.push({
        ...emptyStep(task.key, task.agentType, task.dependsOn),
        title: task.title,
      });
    } else {
      step.title = task.title;
      step.agentType = task.agentType;
    }
  }
}

export function isFinished(progress: WorkflowProgress): boolean {
  return (
    progress.phase === 'completed' || progress.phase === 'failed' || progress.phase === 'cancelled'
  );
}

function finish(progress: WorkflowProgress, phase: Phase, at: number, message: string): void {
  progress.phase = phase;
  progress.finishedAt = at;
  progress.message = message;
}

function setPlannedSteps(progress: WorkflowProgress, data: WorkflowEvent['data']): void {
  const parsed = plannedData.safeParse(data);
  if (!parsed.success) return;
  progress.steps = parsed.data.steps.map((s) => {
    const known = progress.steps.find((k) => k.key === s.key);
    return known ?? emptyStep(s.key, s.agentType, s.dependsOn);
  });
}

function emptyStep(key: string, agentType: string, dependsOn: string[]): StepProgress {
  return {
    key,
    title: key,
    agentType,
    dependsOn,
    status: 'pending',
    attempt: 0,
    startedAt: undefined,
    finishedAt: undefined,
    note: undefined,
  };
}

function resetUnfinished(progress: WorkflowProgress): void {
  progress.finishedAt = undefined;
  progress.message = undefined;
  for (const step of progress.steps) {
    if (step.status === 'completed') continue;
    Object.assign(step, { status: 'pending', finishedAt: undefined, note: undefined });
  }
}

function updateStep(
  progress: WorkflowProgress,
  event: WorkflowEvent,
  change: (step: StepProgress) => void,
): void {
  const key = keyData.safeParse(event.data);
  if (!key.success) return;
  let step = progress.steps.find((s) => s.key === key.data.key);
  if (step === undefined) {
    step = emptyStep(key.data.key, '', []);
    progress.steps.push(step);
  }
  change(step);
}

function errorMessage(event: WorkflowEvent): string {
  const parsed = errorData.safeParse(event.data);
  return parsed.success ? parsed.data.error.message : event.message;
}
