import type { Agent } from '../../agents/agents.contract';
import type {
  Task,
  Workflow,
  WorkflowDetail,
  WorkflowEvent,
} from '../../workflows/workflows.contract';
import type { Colors } from './output';

/** 0.4s, 12.3s, 2m 05s, 1h 02m. */
export function formatDuration(ms: number): string {
  const safe = Math.max(0, ms);
  if (safe < 50) return '<0.1s';
  if (safe < 60_000) return `${(safe / 1000).toFixed(1)}s`;
  const seconds = Math.round(safe / 1000);
  if (seconds < 3600)
    return `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h ${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

export function between(from: string | null, to: string | null): number | undefined {
  if (from === null || to === null) return undefined;
  return Date.parse(to) - Date.parse(from);
}

export function formatNumber(value: number): string {
  return value.toLocaleString('en-US');
}

export function formatUsage(usage: Workflow['usage']): string {
  const calls = `${formatNumber(usage.llmCalls)} model call${usage.llmCalls === 1 ? '' : 's'}`;
  return `${calls} · ${formatNumber(usage.inputTokens)} input tokens · ${formatNumber(usage.outputTokens)} output tokens`;
}

/** Shortens to `max` characters (one line). */
export function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= max) return flat;
  return `${flat.slice(0, Math.max(0, max - 1))}…`;
}

export function indent(text: string, spaces: number): string {
  const pad = ' '.repeat(spaces);
  return text
    .split('\n')
    .map((line) => (line.trim() === '' ? '' : `${pad}${line}`))
    .join('\n');
}

/** `2025-01-02 10:11:12` in local time, for tables. */
export function formatTimestamp(iso: string | null): string {
  if (iso === null) return '-';
  const date = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** `10:11:12` in local time, for event lines. */
export function formatClock(iso: string): string {
  return formatTimestamp(iso).slice(11);
}

const STATUS_SYMBOL: Record<string, string> = {
  completed: '✓',
  failed: '✗',
  cancelled: '⊘',
  running: '▸',
  queued: '◦',
  pending: '◦',
  planning: '▸',
  awaiting_approval: '⏸',
};

export function statusText(status: string, colors: Colors): string {
  const text = status.replace('_', ' ');
  if (status === 'completed') return colors.green(text);
  if (status === 'failed') return colors.red(text);
  if (status === 'cancelled') return colors.yellow(text);
  if (status === 'awaiting_approval') return colors.magenta(text);
  return colors.cyan(text);
}

function symbolOf(status: string, colors: Colors): string {
  const symbol = STATUS_SYMBOL[status] ?? '•';
  if (status === 'completed') return colors.green(symbol);
  if (status === 'failed') return colors.red(symbol);
  if (status === 'cancelled') return colors.yellow(symbol);
  return colors.cyan(symbol);
}

/** The readable result of a workflow: outcome, summary, safety verdict, each step, usage. */
export function formatWorkflowResult(workflow: WorkflowDetail, colors: Colors): string[] {
  const lines: string[] = [];
  const took = between(workflow.createdAt, workflow.finishedAt);
  const duration = took === undefined ? '' : ` in ${formatDuration(took)}`;
  const headline: Record<string, string> = {
    completed: colors.green(colors.bold(`✓ Completed${duration}`)),
    failed: colors.red(colors.bold(`✗ Failed${duration}`)),
    cancelled: colors.yellow(colors.bold(`⊘ Cancelled${duration}`)),
  };
  lines.push(
    `${headline[workflow.status] ?? colors.bold(`Status: ${workflow.status.replace('_', ' ')}`)}  ${colors.dim(`workflow ${workflow.id}`)}`,
  );
  lines.push(`${colors.dim('Request:')} ${workflow.request}`);
  if (workflow.error !== null) {
    lines.push(
      '',
      `${colors.red('Error:')} ${workflow.error.message} ${colors.dim(`(${workflow.error.code})`)}`,
    );
  }
  const result = workflow.result;
  if (result !== null) {
    lines.push('', colors.bold('Summary'), indent(result.summary.trim(), 2));
    const verdict = result.safety.approved
      ? colors.green('✓ approved')
      : colors.red('✗ NOT approved');
    const notes = result.safety.notes.trim();
    lines.push(
      '',
      `${colors.bold('Safety review:')} ${verdict}${notes === '' ? '' : ` — ${notes}`}`,
    );
  }
  if (workflow.tasks.length > 0) {
    lines.push('', colors.bold('Steps'));
    workflow.tasks.forEach((task, index) => lines.push(...formatStep(task, index, colors)));
  }
  lines.push('', `${colors.bold('Usage:')} ${formatUsage(workflow.usage)}`);
  return lines;
}

function formatStep(task: Task, index: number, colors: Colors): string[] {
  const took = between(task.startedAt, task.finishedAt);
  const time = took === undefined ? '' : ` in ${formatDuration(took)}`;
  const attempts = task.attempts > 1 ? `, ${task.attempts} attempts` : '';
  const head = `${symbolOf(task.status, colors)} ${index + 1}. ${colors.bold(task.title)} ${colors.dim(`[${task.key} · ${task.agentType}]`)} ${statusText(task.status, colors)}${colors.dim(time + attempts)}`;
  const lines = [`  ${head}`];
  if (task.error !== null) lines.push(`     ${colors.red(task.error.message)}`);
  if (task.output !== null && task.output.trim() !== '') {
    lines.push(indent(task.output.trim(), 5));
  }
  return lines;
}

/** The plan as a list, for a workflow that waits for approval. */
export function formatPlan(workflow: WorkflowDetail, colors: Colors): string[] {
  const steps = workflow.plan?.steps ?? [];
  return steps.map((step, index) => {
    const after =
      step.dependsOn.length > 0 ? colors.dim(` (after ${step.dependsOn.join(', ')})`) : '';
    return `  ${index + 1}. ${colors.bold(step.title)} ${colors.dim(`[${step.key} · ${step.agentType}]`)}${after}`;
  });
}

export function workflowRows(items: readonly Workflow[], colors: Colors, requestWidth: number) {
  return items.map((w) => [
    w.id,
    statusText(w.status, colors),
    w.plan === null ? '-' : String(w.plan.steps.length),
    formatTimestamp(w.createdAt),
    truncate(w.request, requestWidth),
  ]);
}

export function agentRows(items: readonly Agent[], colors: Colors, descriptionWidth: number) {
  return items.map((a) => [
    a.type,
    a.name,
    a.status === 'active' ? colors.green(a.status) : colors.yellow(a.status),
    a.model ?? colors.dim('default'),
    String(a.version),
    truncate(a.description, descriptionWidth),
  ]);
}

export function formatAgent(agent: Agent, colors: Colors): string[] {
  const field = (name: string, value: string) => `${colors.dim(`${name}:`.padEnd(20))}${value}`;
  return [
    `${colors.bold(agent.name)} ${colors.dim(`(${agent.type})`)}`,
    field('id', agent.id),
    field(
      'status',
      agent.status === 'active' ? colors.green('active') : colors.yellow(agent.status),
    ),
    field('version', String(agent.version)),
    field('model', agent.model ?? 'default (DEFAULT_MODEL)'),
    field('temperature', agent.temperature === null ? 'default' : String(agent.temperature)),
    field(
      'max output tokens',
      agent.maxOutputTokens === null ? 'default' : String(agent.maxOutputTokens),
    ),
    field('created', formatTimestamp(agent.createdAt)),
    field('updated', formatTimestamp(agent.updatedAt)),
    field('description', agent.description === '' ? '-' : agent.description),
    '',
    colors.bold('System prompt'),
    indent(agent.systemPrompt, 2),
  ];
}

/** One line per event: `10:11:12  #12  task.completed  Research completed`. */
export function formatEventLine(event: WorkflowEvent, colors: Colors): string {
  const type = event.type.padEnd(26);
  const colored = event.type.endsWith('.failed')
    ? colors.red(type)
    : event.type.endsWith('.completed')
      ? colors.green(type)
      : event.type.endsWith('.cancelled') || event.type.endsWith('.retrying')
        ? colors.yellow(type)
        : colors.cyan(type);
  return `${colors.dim(formatClock(event.createdAt))}  ${colors.dim(`#${event.id}`.padEnd(5))} ${colored} ${event.message}`;
}
