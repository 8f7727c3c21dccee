import { z } from 'zod';

/** The queues of the platform and their Redis names. */
export const QUEUE_NAMES = { workflows: 'broski-workflows', tasks: 'broski-tasks' } as const;
export type QueueKey = keyof typeof QUEUE_NAMES;

const workflowJob = z.object({ workflowId: z.uuid() });
const taskJob = z.object({ workflowId: z.uuid(), taskId: z.uuid() });

/**
 * The typed job catalogue: every job, its queue, its payload schema and its deterministic id
 * (enqueueing the same job twice is harmless).
 */
interface AnyPayload {
  workflowId: string;
  taskId?: string;
}

export const JOBS = {
  plan: { queue: 'workflows', payload: workflowJob, id: (p: AnyPayload) => `plan:${p.workflowId}` },
  task: { queue: 'tasks', payload: taskJob, id: (p: AnyPayload) => `task:${p.taskId ?? ''}` },
  finalize: {
    queue: 'workflows',
    payload: workflowJob,
    id: (p: AnyPayload) => `finalize:${p.workflowId}`,
  },
} as const satisfies Record<
  string,
  { queue: QueueKey; payload: z.ZodType<AnyPayload>; id: (p: AnyPayload) => string }
>;

export type JobName = keyof typeof JOBS;
export type JobPayload<N extends JobName> = z.infer<(typeof JOBS)[N]['payload']>;

export function jobIdOf<N extends JobName>(name: N, payload: JobPayload<N>): string {
  const payloadOfAnyJob: AnyPayload = payload;
  return JOBS[name].id(payloadOfAnyJob);
}

export function isJobName(value: string): value is JobName {
  return Object.hasOwn(JOBS, value);
}

/** The job named by a catalogue id (`task:<id>` → `task`); undefined for anything else. */
export function jobNameOfId(id: string): JobName | undefined {
  const name = id.slice(0, id.indexOf(':'));
  return isJobName(name) ? name : undefined;
}

/** A handler asks for a later re-run by returning `{retryInMs}` (e.g. a model's Retry-After). */
export type JobOutcome = void | { retryInMs: number };

export interface JobContext {
  jobId: string;
  /** Aborted when this process shuts down past its grace period: hand the work back. */
  shutdownSignal: AbortSignal;
}

export type JobHandler<N extends JobName> = (
  payload: JobPayload<N>,
  context: JobContext,
) => Promise<JobOutcome>;

export type JobHandlers = { [N in JobName]: JobHandler<N> };

/** Parses a job's payload with its catalogue schema and calls its handler. */
export function dispatchJob(
  handlers: JobHandlers,
  name: JobName,
  data: unknown,
  context: JobContext,
): Promise<JobOutcome> {
  switch (name) {
    case 'plan':
      return handlers.plan(JOBS.plan.payload.parse(data), context);
    case 'task':
      return handlers.task(JOBS.task.payload.parse(data), context);
    case 'finalize':
      return handlers.finalize(JOBS.finalize.payload.parse(data), context);
  }
}
