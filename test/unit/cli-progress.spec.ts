import pc from 'picocolors';
import type { Task, WorkflowEvent } from '../../src/modules/workflows/workflows.contract';
import type { EventType } from '../../src/modules/workflows/workflow-events.table';
import { Output } from '../../src/modules/cli/output/output';
import { formatDuration, formatUsage, truncate } from '../../src/modules/cli/output/format';
import { renderFrame } from '../../src/modules/cli/progress/progress-frame';
import { createRenderer, PlainRenderer } from '../../src/modules/cli/progress/progress-renderers';
import {
  applyEvent,
  applyTasks,
  isFinished,
  newProgress,
} from '../../src/modules/cli/progress/progress-state';

const colors = pc.createColors(false);
const T0 = Date.parse('2025-01-01T10:00:00.000Z');
let nextId = 0;

function event(
  type: EventType,
  seconds: number,
  data: Record<string, unknown> | null = null,
): WorkflowEvent {
  nextId += 1;
  return {
    id: nextId,
    workflowId: 'w1',
    taskId: null,
    type,
    message: `${type} message`,
    data,
    createdAt: new Date(T0 + seconds * 1000).toISOString(),
  };
}

function task(key: string, title: string, agentType: string): Task {
  return {
    id: `t-${key}`,
    workflowId: 'w1',
    key,
    title,
    agentType,
    input: '',
    output: null,
    status: 'pending',
    dependsOn: [],
    attempts: 0,
    error: null,
    usage: { llmCalls: 0, inputTokens: 0, outputTokens: 0 },
    createdAt: new Date(T0).toISOString(),
    startedAt: null,
    finishedAt: null,
  };
}

const planned = {
  steps: [
    { key: 'research', agentType: 'researcher', dependsOn: [] },
    { key: 'write', agentType: 'writer', dependsOn: ['research'] },
  ],
};

function frame(progress: ReturnType<typeof newProgress>, nowSeconds: number): string {
  return renderFrame(progress, { colors, now: T0 + nowSeconds * 1000, tick: 0, width: 200 }).join(
    '\n',
  );
}

describe('live progress', () => {
  it('builds the task list from the events: spinner, waits, ✓ with times, retries, the end', () => {
    const progress = newProgress('w1');
    applyEvent(progress, event('workflow.created', 0));
    applyEvent(progress, event('workflow.planning', 0.1));
    expect(frame(progress, 0.6)).toBe('⠋ Planning 0.5s');

    applyEvent(progress, event('workflow.planned', 0.5, planned));
    applyTasks(progress, [
      task('research', 'Research it', 'researcher'),
      task('write', 'Write it', 'writer'),
    ]);
    applyEvent(progress, event('workflow.started', 0.5));
    applyEvent(progress, event('task.queued', 0.5, { key: 'research' }));
    applyEvent(progress, event('task.started', 0.6, { key: 'research', attempt: 1 }));
    expect(frame(progress, 1.6)).toBe(
      [
        '✓ Planned 2 steps 0.4s',
        '  ⠋ research  Research it · researcher 1.0s',
        '  ◦ write     Write it · writer waits for research',
      ].join('\n'),
    );

    applyEvent(
      progress,
      event('task.retrying', 1.0, { key: 'research', error: { message: 'rate limited' } }),
    );
    expect(frame(progress, 1.1)).toContain(
      '↻ research  Research it · researcher retrying after attempt 1: rate limited',
    );
    applyEvent(progress, event('task.started', 1.5, { key: 'research', attempt: 2 }));
    applyEvent(progress, event('task.completed', 2.0, { key: 'research' }));
    applyEvent(progress, event('task.queued', 2.0, { key: 'write' }));
    expect(frame(progress, 2.1)).toContain('✓ research  Research it · researcher 0.5s (attempt 2)');
    expect(frame(progress, 2.1)).toContain('◦ write     Write it · writer queued');

    applyEvent(progress, event('task.started', 2.1, { key: 'write', attempt: 1 }));
    applyEvent(progress, event('task.completed', 3.1, { key: 'write' }));
    expect(progress.phase).toBe('finalizing');
    expect(frame(progress, 3.5)).toContain('⠋ Safety review and summary 0.4s');
    applyEvent(progress, event('workflow.completed', 4.0));
    expect(isFinished(progress)).toBe(true);
    expect(frame(progress, 9)).toBe(
      [
        '✓ Planned 2 steps 0.4s',
        '  ✓ research  Research it · researcher 0.5s (attempt 2)',
        '  ✓ write     Write it · writer 1.0s',
        '✓ Safety review and summary 0.9s',
        '✓ Completed 4.0s',
      ].join('\n'),
    );
    // A replayed event changes nothing.
    applyEvent(progress, { ...event('task.started', 5, { key: 'write' }), id: 3 });
    expect(progress.steps[1]?.status).toBe('completed');
  });

  it('shows failures, cancellations, the approval wait and a retry of the workflow', () => {
    const progress = newProgress('w1');
    applyEvent(progress, event('workflow.created', 0));
    applyEvent(progress, event('workflow.planning', 0));
    applyEvent(progress, event('workflow.planned', 1, planned));
    applyEvent(progress, event('workflow.awaiting_approval', 1));
    expect(frame(progress, 2)).toContain('⏸ Waiting for approval');
    applyEvent(progress, event('workflow.approved', 3));
    applyEvent(progress, event('workflow.started', 3));
    applyEvent(progress, event('task.started', 3, { key: 'research', attempt: 1 }));
    applyEvent(
      progress,
      event('task.failed', 4, { key: 'research', error: { message: 'provider down' } }),
    );
    applyEvent(progress, event('task.cancelled', 4, { key: 'write' }));
    applyEvent(progress, event('workflow.failed', 4));
    const failed = frame(progress, 5);
    expect(failed).toContain('✗ research  research · researcher 1.0s provider down');
    expect(failed).toContain('⊘ write     write · writer cancelled');
    expect(failed).toContain('✗ Failed 4.0s');

    applyEvent(progress, event('workflow.started', 6, { retry: true }));
    expect(progress.steps.map((s) => s.status)).toEqual(['pending', 'pending']);
    expect(progress.finishedAt).toBeUndefined();
    applyEvent(progress, event('workflow.cancelled', 7));
    expect(frame(progress, 8)).toContain('⊘ Cancelled');

    const replanned = newProgress('w2');
    applyEvent(replanned, event('workflow.created', 0, { retry: true }));
    expect(frame(replanned, 1)).toBe('⠋ Waiting to be planned 1.0s');
  });

  it('prints one plain line per event, with the plan under workflow.planned', () => {
    const written: string[] = [];
    const output = new Output({ json: false, verbose: false }, { write: (t) => written.push(t) });
    const renderer = new PlainRenderer(output);
    const progress = newProgress('w1');
    const planning = event('workflow.planned', 0, planned);
    applyEvent(progress, planning);
    applyTasks(progress, [task('research', 'Research it', 'researcher')]);
    renderer.event(planning, progress);
    renderer.stop();
    expect(written.join('')).toMatch(
      /^\d\d:\d\d:\d\d {2}#\d+ +workflow\.planned +workflow\.planned message\n/,
    );
    expect(written.join('')).toContain('1. research: Research it [researcher]');
    expect(written.join('')).toContain('2. write: write [writer] (after research)');
  });

  it('picks the renderer for the output', async () => {
    const sink = { write: () => true };
    const json = await createRenderer(
      new Output({ json: true, verbose: false }, sink),
      newProgress('w'),
    );
    json.event(event('workflow.created', 0), newProgress('w'));
    json.stop(newProgress('w'));
    expect(json.constructor.name).toBe('SilentRenderer');
    const plain = await createRenderer(
      new Output({ json: false, verbose: false }, sink),
      newProgress('w'),
    );
    expect(plain).toBeInstanceOf(PlainRenderer);
  });

  it('formats durations, usage and long text', () => {
    expect(formatDuration(420)).toBe('0.4s');
    expect(formatDuration(12)).toBe('<0.1s');
    expect(formatDuration(125_000)).toBe('2m 05s');
    expect(formatDuration(3_720_000)).toBe('1h 02m');
    expect(formatUsage({ llmCalls: 1, inputTokens: 1234, outputTokens: 5 })).toBe(
      '1 model call · 1,234 input tokens · 5 output tokens',
    );
    expect(truncate('a  b\nc', 10)).toBe('a b c');
    expect(truncate('abcdefghijkl', 5)).toBe('abcd…');
  });
});
