import type { AgentBrief, StepOutputBrief } from '../llm/llm.types';
import { MAX_PLAN_STEPS } from './plan-validation';

/**
 * Prompt building: pure functions from the workflow's data to what a real model reads.
 * The offline model reads the structured context instead.
 */

function section(title: string, body: string): string {
  return `## ${title}\n${body.trim()}\n`;
}

function outputsSection(outputs: readonly StepOutputBrief[]): string {
  return outputs
    .map((o) => `### ${o.title} (step "${o.key}", by the ${o.agentType})\n${o.output.trim()}`)
    .join('\n\n');
}

export function buildPlanPrompt(input: {
  request: string;
  agents: readonly AgentBrief[];
  previousErrors?: readonly string[];
}): string {
  const catalogue = input.agents.map((a) => `- ${a.type}: ${a.name}. ${a.description}`).join('\n');
  const parts = [
    section('User request', input.request),
    section('Agents you can assign steps to', catalogue),
    section(
      'Answer',
      [
        `Answer with a JSON object {"steps": [...]} of 1 to ${MAX_PLAN_STEPS} steps.`,
        'Each step: {"key": short lowercase slug, unique, "title": short title, "agentType": one of the agent types above, "instructions": what to do and deliver, "dependsOn": keys of the steps whose output this step needs}.',
        'Steps without dependencies run in parallel. Do not create cycles.',
      ].join('\n'),
    ),
  ];
  if (input.previousErrors !== undefined && input.previousErrors.length > 0) {
    parts.push(
      section(
        'Your previous plan was rejected; fix every one of these problems',
        input.previousErrors.map((e) => `- ${e}`).join('\n'),
      ),
    );
  }
  return parts.join('\n');
}

export function buildStepPrompt(input: {
  request: string;
  title: string;
  instructions: string;
  dependencies: readonly StepOutputBrief[];
}): string {
  const parts = [
    section('The overall request', input.request),
    section(`Your step: ${input.title}`, input.instructions),
  ];
  if (input.dependencies.length > 0) {
    parts.push(section('Results of the steps you build on', outputsSection(input.dependencies)));
  }
  parts.push(
    section('Answer', 'Deliver the result of your step itself, complete and ready to use.'),
  );
  return parts.join('\n');
}

export function buildSafetyPrompt(input: {
  request: string;
  outputs: readonly StepOutputBrief[];
}): string {
  return [
    section('The request', input.request),
    section('Outputs to review', outputsSection(input.outputs)),
    section(
      'Answer',
      'Answer with a JSON object {"approved": true or false, "notes": "specific notes on every concern, or why it is safe"}.',
    ),
  ].join('\n');
}

export function buildSummaryPrompt(input: {
  request: string;
  outputs: readonly StepOutputBrief[];
  safety: { approved: boolean; notes: string };
}): string {
  return [
    section('The request', input.request),
    section('What the team produced', outputsSection(input.outputs)),
    section(
      'Safety review',
      `${input.safety.approved ? 'Approved' : 'NOT approved'}. ${input.safety.notes}`,
    ),
    section(
      'Answer',
      'Write a concise summary for the user: what was produced, the key decisions, and anything that needs their attention.',
    ),
  ].join('\n');
}
