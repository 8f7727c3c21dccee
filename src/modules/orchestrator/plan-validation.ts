import { z } from 'zod';
import type { Plan } from '../workflows/workflow.types';

export const MAX_PLAN_STEPS = 12;

/** The shape the orchestrator model must answer when planning (structured output). */
export const planOutputSchema = z.object({
  steps: z
    .array(
      z.object({
        key: z
          .string()
          .regex(/^[a-z][a-z0-9_-]{0,39}$/, 'must be a short lowercase slug like "research"'),
        title: z.string().trim().min(1).max(200),
        agentType: z.string().min(1),
        instructions: z.string().trim().min(1).max(8000),
        dependsOn: z.array(z.string()).default([]),
      }),
    )
    .min(1, 'must have at least one step')
    .max(MAX_PLAN_STEPS, `must have at most ${MAX_PLAN_STEPS} steps`),
});

export type PlanValidation = { ok: true; plan: Plan } | { ok: false; errors: string[] };

/**
 * Checks a proposed plan: its shape, then the graph — unique keys, known agent types, existing
 * dependencies, no step depending on itself, no cycles.
 */
export function validatePlan(
  candidate: unknown,
  allowedAgentTypes: readonly string[],
): PlanValidation {
  const parsed = planOutputSchema.safeParse(candidate);
  if (!parsed.success) {
    return {
      ok: false,
      errors: parsed.error.issues.map(
        (issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'plan'}: ${issue.message}`,
      ),
    };
  }
  const steps = parsed.data.steps;
  const errors: string[] = [];
  const keys = new Set<string>();
  for (const step of steps) {
    if (keys.has(step.key))
      errors.push(`step "${step.key}": the key is used by more than one step`);
    keys.add(step.key);
  }
  for (const step of steps) {
    if (!allowedAgentTypes.includes(step.agentType)) {
      errors.push(
        `step "${step.key}": agent type "${step.agentType}" is not available (use one of: ${allowedAgentTypes.join(', ')})`,
      );
    }
    for (const dependency of step.dependsOn) {
      if (dependency === step.key)
        errors.push(`step "${step.key}": a step cannot depend on itself`);
      else if (!keys.has(dependency)) {
        errors.push(
          `step "${step.key}": depends on "${dependency}", which is not a step of the plan`,
        );
      }
    }
  }
  const cycle = findCycle(steps);
  if (cycle !== undefined) errors.push(`the dependencies form a cycle: ${cycle.join(' → ')}`);
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    plan: {
      steps: steps.map((s) => ({ ...s, dependsOn: [...new Set(s.dependsOn)] })),
    },
  };
}

function findCycle(
  steps: ReadonlyArray<{ key: string; dependsOn: string[] }>,
): string[] | undefined {
  const deps = new Map(steps.map((s) => [s.key, s.dependsOn.filter((d) => d !== s.key)]));
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (key: string): string[] | undefined => {
    const current = state.get(key);
    if (current === 'done') return undefined;
    if (current === 'visiting') return [...path.slice(path.indexOf(key)), key];
    state.set(key, 'visiting');
    path.push(key);
    for (const next of deps.get(key) ?? []) {
      if (!deps.has(next)) continue;
      const cycle = visit(next);
      if (cycle !== undefined) return cycle;
    }
    path.pop();
    state.set(key, 'done');
    return undefined;
  };
  for (const key of deps.keys()) {
    const cycle = visit(key);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}

/** The agent types a workflow may plan with: active specialists, limited by the submission. */
export function plannableAgentTypes(
  activeTypes: readonly string[],
  limitTo: readonly string[] | null,
): string[] {
  return activeTypes.filter(
    (type) =>
      type !== 'orchestrator' && type !== 'safety' && (limitTo === null || limitTo.includes(type)),
  );
}

export const safetyOutputSchema = z.object({
  approved: z.boolean(),
  notes: z.string(),
});
