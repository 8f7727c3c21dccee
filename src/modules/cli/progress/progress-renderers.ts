import { Writable } from 'node:stream';
import type { WorkflowEvent } from '../../workflows/workflows.contract';
import { formatEventLine } from '../output/format';
import type { OutStream, Output } from '../output/output';
import { renderFrame } from './progress-frame';
import type { WorkflowProgress } from './progress-state';

/** Shows a workflow's progress while it is followed. */
export interface ProgressRenderer {
  /** After each event was applied to `progress` (and the plan's titles, for `workflow.planned`). */
  event(event: WorkflowEvent, progress: WorkflowProgress): void;
  /** The follow ended (finished, waiting for approval or detached): leave the last state shown. */
  stop(progress: WorkflowProgress): void;
}

/** `--json`: nothing while following; only the final JSON is printed. */
export class SilentRenderer implements ProgressRenderer {
  event(): void {}
  stop(): void {}
}

/** Not a terminal: one plain line per event (and the plan's steps under `workflow.planned`). */
export class PlainRenderer implements ProgressRenderer {
  constructor(private readonly output: Output) {}

  event(event: WorkflowEvent, progress: WorkflowProgress): void {
    const { colors } = this.output;
    this.output.line(formatEventLine(event, colors));
    if (event.type === 'workflow.planned') {
      progress.steps.forEach((step, index) => {
        const after =
          step.dependsOn.length > 0 ? colors.dim(` (after ${step.dependsOn.join(', ')})`) : '';
        this.output.line(
          `            ${index + 1}. ${step.key}: ${step.title} ${colors.dim(`[${step.agentType}]`)}${after}`,
        );
      });
    }
  }

  stop(): void {}
}

/**
 * What log-update draws on: the terminal, except that a pseudo-terminal without a window size
 * reports 0 rows and columns (log-update would cut every line), so a usual size stands in.
 */
class TerminalStream extends Writable {
  constructor(private readonly target: OutStream) {
    super({ decodeStrings: false });
  }

  get columns(): number {
    return this.target.columns || 100;
  }

  get rows(): number {
    return this.target.rows || 40;
  }

  override _write(chunk: unknown, _encoding: BufferEncoding, callback: () => void): void {
    this.target.write(typeof chunk === 'string' ? chunk : String(chunk));
    callback();
  }
}

type LogUpdate = ((...text: string[]) => void) & { clear(): void; done(): void };

const TICK_MS = 80;

/**
 * A terminal: a live task list redrawn in place (log-update) — spinners on running steps, ✓/✗
 * and times as they finish.
 */
export class TtyRenderer implements ProgressRenderer {
  private tick = 0;
  private readonly timer: NodeJS.Timeout;
  private stopped = false;

  private constructor(
    private readonly output: Output,
    private readonly log: LogUpdate,
    private progress: WorkflowProgress,
  ) {
    this.timer = setInterval(() => {
      this.tick += 1;
      this.draw();
    }, TICK_MS);
    this.draw();
  }

  static async create(output: Output, progress: WorkflowProgress): Promise<TtyRenderer> {
    // log-update is an ES module: loaded only on a terminal, through require(esm) (Node ≥ 20.19).
    const { createLogUpdate } = await import('log-update');
    return new TtyRenderer(output, createLogUpdate(new TerminalStream(output.stdout)), progress);
  }

  event(_event: WorkflowEvent, progress: WorkflowProgress): void {
    this.progress = progress;
    this.draw();
  }

  stop(progress: WorkflowProgress): void {
    if (this.stopped) return;
    this.progress = progress;
    this.draw();
    this.stopped = true;
    clearInterval(this.timer);
    this.log.done();
  }

  private draw(): void {
    if (this.stopped) return;
    const frame = renderFrame(this.progress, {
      colors: this.output.colors,
      now: Date.now(),
      tick: this.tick,
      width: this.output.width,
    });
    this.log(frame.join('\n'));
  }
}

/** The renderer that fits the output: silent for --json, live on a terminal, lines otherwise. */
export async function createRenderer(
  output: Output,
  progress: WorkflowProgress,
): Promise<ProgressRenderer> {
  if (output.json) return new SilentRenderer();
  if (output.interactive) return TtyRenderer.create(output, progress);
  return new PlainRenderer(output);
}
