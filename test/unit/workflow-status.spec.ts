import { DomainError } from '../../src/common/domain-error';
import {
  assertWorkflowAction,
  canMoveTask,
  canMoveWorkflow,
  taskFrom,
  workflowFrom,
} from '../../src/modules/workflows/workflow-status';

describe('status machines', () => {
  it('follows the workflow lifecycle of the contract', () => {
    expect(canMoveWorkflow('pending', 'planning')).toBe(true);
    expect(canMoveWorkflow('planning', 'awaiting_approval')).toBe(true);
    expect(canMoveWorkflow('awaiting_approval', 'running')).toBe(true);
    expect(canMoveWorkflow('running', 'completed')).toBe(true);
    expect(canMoveWorkflow('completed', 'running')).toBe(false);
    expect(canMoveWorkflow('cancelled', 'running')).toBe(false);
    expect(canMoveWorkflow('pending', 'completed')).toBe(false);
  });

  it('lets every non-terminal workflow be cancelled, and nothing else', () => {
    expect(workflowFrom('cancelled').sort()).toEqual(
      ['awaiting_approval', 'pending', 'planning', 'running'].sort(),
    );
  });

  it('only retries failed workflows', () => {
    expect(canMoveWorkflow('failed', 'running')).toBe(true);
    expect(canMoveWorkflow('completed', 'pending')).toBe(false);
  });

  it('follows the task lifecycle, with transient failures going back to queued', () => {
    expect(canMoveTask('pending', 'queued')).toBe(true);
    expect(canMoveTask('queued', 'running')).toBe(true);
    expect(canMoveTask('running', 'queued')).toBe(true);
    expect(canMoveTask('running', 'completed')).toBe(true);
    expect(canMoveTask('completed', 'running')).toBe(false);
    expect(canMoveTask('pending', 'completed')).toBe(false);
    expect(taskFrom('completed')).toEqual(['running']);
    // A cancelled or failed task only comes back through a retry of its workflow (to pending).
    expect(canMoveTask('cancelled', 'queued')).toBe(false);
    expect(canMoveTask('failed', 'queued')).toBe(false);
    expect(canMoveTask('cancelled', 'pending')).toBe(true);
    expect(taskFrom('queued').sort()).toEqual(['pending', 'running']);
  });

  it('answers an illegal action with a 409 domain error', () => {
    expect(() => assertWorkflowAction('approve', 'running', ['awaiting_approval'])).toThrow(
      DomainError,
    );
    try {
      assertWorkflowAction('approve', 'running', ['awaiting_approval']);
    } catch (error) {
      expect(error).toMatchObject({ status: 409, code: 'invalid_transition' });
      expect(error instanceof Error ? error.message : '').toMatch(
        /Cannot approve a workflow that is running/,
      );
    }
    expect(() => assertWorkflowAction('cancel', 'running', ['running'])).not.toThrow();
  });
});
