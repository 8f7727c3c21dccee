import { getEventListeners } from 'node:events';
import { abortReasonOf, RunningCalls } from '../../src/modules/orchestrator/running-calls';

describe('RunningCalls', () => {
  // More than 10 listeners on one AbortSignal make Node print a MaxListenersExceededWarning on
  // the worker's stderr (a line that is not JSON) as soon as 11 steps run at once.
  it('aborts every call under a shutdown signal, which gets one listener however many calls run', () => {
    const calls = new RunningCalls();
    const shutdown = new AbortController();
    const other = new AbortController();
    const controllers = Array.from({ length: 25 }, (_, i) =>
      calls.start(`task:${i}`, `wf-${i % 3}`, shutdown.signal),
    );
    const elsewhere = calls.start('task:other', 'wf-0', other.signal);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(1);
    calls.finish('task:24');
    shutdown.abort(new Error('shutdown'));

    expect(controllers.slice(0, 24).map((c) => abortReasonOf(c.signal))).toEqual(
      Array.from({ length: 24 }, () => 'shutdown'),
    );
    // A finished call is not touched; a call under another signal keeps running.
    expect(controllers[24]?.signal.aborted).toBe(false);
    expect(elsewhere.signal.aborted).toBe(false);
    // A call started after the shutdown is aborted at once.
    expect(abortReasonOf(calls.start('late', 'wf-0', shutdown.signal).signal)).toBe('shutdown');
  });

  it('cancels the calls of one workflow and counts them', () => {
    const calls = new RunningCalls();
    const a = calls.start('a', 'wf-1');
    const b = calls.start('b', 'wf-2');
    const c = calls.start('c', 'wf-1');
    expect(calls.cancelWorkflow('wf-1')).toBe(2);
    expect(calls.cancelWorkflow('wf-1')).toBe(0);
    expect([a, b, c].map((x) => abortReasonOf(x.signal))).toEqual([
      'cancelled',
      undefined,
      'cancelled',
    ]);
    calls.finish('a');
    expect(calls.size).toBe(2);
  });
});
