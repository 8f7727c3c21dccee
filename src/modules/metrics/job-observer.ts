import type { JobName } from '../queue/jobs';

/** How a job handled by this process ended: done, handed back for later, or thrown. */
export const JOB_OUTCOMES = ['completed', 'retry_later', 'failed'] as const;
export type JobOutcomeLabel = (typeof JOB_OUTCOMES)[number];

/**
 * Where the job processor reports the jobs it ran (the metrics registry, when the process has
 * one). A token of its own, so that a process without metrics never loads prom-client.
 */
export const JOB_OBSERVER = Symbol('JOB_OBSERVER');

export interface JobObserver {
  observeJob(job: JobName, outcome: JobOutcomeLabel, seconds: number): void;
}
