/** Every event a workflow records (the durable trace; ARCHITECTURE §6). */
export const EVENT_TYPES = [
  'workflow.created',
  'workflow.planning',
  'workflow.planned',
  'workflow.awaiting_approval',
  'workflow.approved',
  'workflow.rejected',
  'workflow.started',
  'task.queued',
  'task.started',
  'task.retrying',
  'task.completed',
  'task.failed',
  'task.cancelled',
  'workflow.completed',
  'workflow.failed',
  'workflow.cancelled',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const TERMINAL_EVENT_TYPES: readonly EventType[] = [
  'workflow.completed',
  'workflow.failed',
  'workflow.cancelled',
];
