import { formatDuration, truncate } from '../output/format';
import type { Colors } from '../output/output';
import type { StepProgress, WorkflowProgress } from './progress-state';

/** The "dots" spinner. */
export const SPINNER_FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface FrameContext {
  colors: Colors;
  /** Epoch ms, for the elapsed time of what is running. */
  now: number;
  /** Spinner frame counter. */
  tick: number;
  width: number;
}

/**
 * The live task list: the planning line, one line per step (spinner while running, ✓/✗ and its
 * time when done, retries noted), then the final review. Pure, so it is unit-tested.
 */
export function renderFrame(progress: WorkflowProgress, ctx: FrameContext): string[] {
  const { colors } = ctx;
  const spinner = colors.cyan(SPINNER_FRAMES[ctx.tick % SPINNER_FRAMES.length] ?? '-');
  const lines: string[] = [];
  const elapsed = (from: number | undefined, to: number | undefined) =>
    from === undefined ? '' : colors.dim(formatDuration((to ?? ctx.now) - from));

  if (progress.plannedAt === undefined) {
    const waiting = progress.phase === 'submitted';
    const label = waiting ? 'Waiting to be planned' : 'Planning';
    const state = isTerminal(progress) ? stopSymbol(progress, colors) : spinner;
    lines.push(
      `${state} ${label} ${elapsed(progress.planningAt ?? progress.createdAt, progress.finishedAt)}`.trimEnd(),
    );
  } else {
    const count = progress.steps.length;
    lines.push(
      `${colors.green('✓')} Planned ${count} step${count === 1 ? '' : 's'} ${elapsed(progress.planningAt ?? progress.createdAt, progress.plannedAt)}`.trimEnd(),
    );
  }

  const keyWidth = Math.min(20, Math.max(0, ...progress.steps.map((s) => s.key.length)));
  for (const step of progress.steps) lines.push(renderStep(step, progress, ctx, spinner, keyWidth));

  if (progress.phase === 'awaiting_approval') {
    lines.push(`${colors.magenta('⏸')} Waiting for approval`);
  }
  if (progress.finalizingAt !== undefined) {
    const done = progress.phase === 'completed';
    const state = done
      ? colors.green('✓')
      : isTerminal(progress)
        ? stopSymbol(progress, colors)
        : spinner;
    lines.push(
      `${state} Safety review and summary ${elapsed(progress.finalizingAt, progress.finishedAt)}`.trimEnd(),
    );
  }
  if (isTerminal(progress)) {
    const total = elapsed(progress.createdAt, progress.finishedAt);
    const label =
      progress.phase === 'completed'
        ? colors.green(colors.bold('Completed'))
        : progress.phase === 'failed'
          ? colors.red(colors.bold('Failed'))
          : colors.yellow(colors.bold('Cancelled'));
    lines.push(`${stopSymbol(progress, colors)} ${label} ${total}`.trimEnd());
  }
  return lines.map((line) => fit(line, ctx.width));
}

function renderStep(
  step: StepProgress,
  progress: WorkflowProgress,
  ctx: FrameContext,
  spinner: string,
  keyWidth: number,
): string {
  const { colors } = ctx;
  const key = colors.bold(step.key.padEnd(keyWidth));
  const agent = step.agentType === '' ? '' : colors.dim(` · ${step.agentType}`);
  const titleWidth = Math.max(20, Math.min(80, ctx.width - keyWidth - 40));
  const head = (symbol: string) =>
    `  ${symbol} ${key}  ${truncate(step.title, titleWidth)}${agent}`;
  const time =
    step.startedAt === undefined
      ? ''
      : ` ${colors.dim(formatDuration((step.finishedAt ?? ctx.now) - step.startedAt))}`;
  const attempt = step.attempt > 1 ? colors.yellow(` (attempt ${step.attempt})`) : '';
  switch (step.status) {
    case 'completed':
      return head(colors.green('✓')) + time + attempt;
    case 'failed':
      return head(colors.red('✗')) + time + colors.red(` ${truncate(step.note ?? 'failed', 60)}`);
    case 'cancelled':
      return head(colors.yellow('⊘')) + colors.yellow(' cancelled');
    case 'running':
      return head(isTerminal(progress) ? colors.dim('•') : spinner) + time + attempt;
    case 'retrying':
      return (
        head(colors.yellow('↻')) +
        colors.yellow(` retrying after attempt ${step.attempt}: ${truncate(step.note ?? '', 50)}`)
      );
    case 'queued':
      return head(colors.dim('◦')) + colors.dim(' queued');
    case 'pending': {
      const waits = step.dependsOn.filter(
        (key) => progress.steps.find((s) => s.key === key)?.status !== 'completed',
      );
      const why = waits.length > 0 ? ` waits for ${waits.join(', ')}` : ' pending';
      return head(colors.dim('◦')) + colors.dim(why);
    }
  }
}

function isTerminal(progress: WorkflowProgress): boolean {
  return (
    progress.phase === 'completed' || progress.phase === 'failed' || progress.phase === 'cancelled'
  );
}

function stopSymbol(progress: WorkflowProgress, colors: Colors): string {
  if (progress.phase === 'completed') return colors.green('✓');
  if (progress.phase === 'failed') return colors.red('✗');
  return colors.yellow('⊘');
}

/** Cuts a line (which may hold color codes) to the terminal width, so redraws stay aligned. */
function fit(line: string, width: number): string {
  // eslint-disable-next-line no-control-regex
  const visible = line.replace(/\x1b\[[0-9;]*m/g, '');
  if (visible.length <= width - 1) return line;
  let out = '';
  let shown = 0;
  // eslint-disable-next-line no-control-regex
  const tokens = line.split(/(\x1b\[[0-9;]*m)/);
  for (const token of tokens) {
    if (token.startsWith('\x1b[')) {
      out += token;
      continue;
    }
    const room = width - 2 - shown;
    if (room <= 0) continue;
    out += token.slice(0, room);
    shown += Math.min(token.length, room);
  }
  return line === visible ? `${out}…` : `${out}…\x1b[0m`;
}
