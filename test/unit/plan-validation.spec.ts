import {
  MAX_PLAN_STEPS,
  plannableAgentTypes,
  validatePlan,
} from '../../src/modules/orchestrator/plan-validation';

const agents = ['researcher', 'designer', 'coder', 'writer'];

function step(key: string, agentType: string, dependsOn: string[] = []) {
  return { key, title: `Step ${key}`, agentType, instructions: `Do ${key}`, dependsOn };
}

describe('plan validation', () => {
  it('accepts a valid graph and removes repeated dependencies', () => {
    const result = validatePlan(
      { steps: [step('research', 'researcher'), step('build', 'coder', ['research', 'research'])] },
      agents,
    );
    expect(result).toEqual({
      ok: true,
      plan: { steps: [step('research', 'researcher'), step('build', 'coder', ['research'])] },
    });
  });

  it('names duplicate keys, unknown agents and unknown dependencies together', () => {
    const result = validatePlan(
      {
        steps: [step('a', 'researcher'), step('a', 'writer'), step('b', 'astronaut', ['zzz'])],
      },
      agents,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/"a".*more than one step/),
        expect.stringMatching(/"astronaut" is not available/),
        expect.stringMatching(/depends on "zzz"/),
      ]),
    );
  });

  it('finds cycles and self-dependencies', () => {
    const cycle = validatePlan(
      { steps: [step('a', 'coder', ['c']), step('b', 'coder', ['a']), step('c', 'coder', ['b'])] },
      agents,
    );
    expect(cycle.ok).toBe(false);
    if (!cycle.ok) expect(cycle.errors.join('\n')).toMatch(/cycle: a → c → b → a|cycle/);
    const self = validatePlan({ steps: [step('a', 'coder', ['a'])] }, agents);
    expect(self.ok).toBe(false);
    if (!self.ok) expect(self.errors.join('\n')).toMatch(/cannot depend on itself/);
  });

  it('enforces the step limit and the shape', () => {
    const many = Array.from({ length: MAX_PLAN_STEPS + 1 }, (_, i) => step(`s${i}`, 'writer'));
    const tooMany = validatePlan({ steps: many }, agents);
    expect(tooMany.ok).toBe(false);
    if (!tooMany.ok) expect(tooMany.errors.join()).toMatch(/at most 12 steps/);
    expect(validatePlan({ steps: [] }, agents).ok).toBe(false);
    expect(validatePlan('not a plan', agents).ok).toBe(false);
    const badKey = validatePlan({ steps: [step('Bad Key', 'writer')] }, agents);
    expect(badKey.ok).toBe(false);
    if (!badKey.ok) expect(badKey.errors.join()).toMatch(/steps\.0\.key/);
  });

  it('plans only with specialists, limited by the submission', () => {
    const active = ['orchestrator', 'researcher', 'writer', 'safety', 'coder'];
    expect(plannableAgentTypes(active, null)).toEqual(['researcher', 'writer', 'coder']);
    expect(plannableAgentTypes(active, ['writer', 'designer'])).toEqual(['writer']);
  });
});
