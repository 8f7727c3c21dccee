import type { AgentBrief, StepOutputBrief } from '../llm/llm.types';
import { MAX_PLAN_STEPS } from './plan-validation';

/**
 * Prompt building: pure functions from the workflow's data to what a real model reads.
 * The offline model reads the structured context instead.
 */

/*
 * Built by concatenation, not `join`: V8 keeps a concatenation of long strings as a tree of the
 * parts until something reads its characters. The offline model reads only a prompt's length,
 * and a provider's request body copies it once; `join` (and `trim` of a concatenation) copied
 * the step outputs a prompt quotes again at each level.
 */

function section(title: string, body: string): string {
  return `## ${title}\n${body.trim()}\n`;
}

/** A section whose body is trimmed already (it is not copied to trim it again). */
function trimmedSection(title: string, body: string): string {
  return '## ' + title + '\n' + body + '\n';
}

/** The outputs one after the other, trimmed as a whole (as `section` would trim them). */
function outputsSection(outputs: readonly StepOutputBrief[]): string {
  let body = '';
  outputs.forEach((o, index) => {
    const output = o.output.trim();
    if (index > 0) body += '\n\n';
    body += '### ' + o.title + ' (step "' + o.key + '", by the ' + o.agentType + ')';
    // An empty last output would leave the heading's line break at the end, which trim drops.
    if (output !== '' || index < outputs.length - 1) body += '\n' + output;
  });
  return body;
}

function lines(parts: readonly string[]): string {
  let text = '';
  parts.forEach((part, index) => {
    text += index === 0 ? part : '\n' + part;
  });
  return text;
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
  return lines(parts);
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
    parts.push(
      trimmedSection('Results of the steps you build on', outputsSection(input.dependencies)),
    );
  }
  parts.push(
    section('Answer', 'Deliver the result of your step itself, complete and ready to use.'),
  );
  return lines(parts);
}

export function buildSafetyPrompt(input: {
  request: string;
  outputs: readonly StepOutputBrief[];
}): string {
  return lines([
    section('The request', input.request),
    trimmedSection('Outputs to review', outputsSection(input.outputs)),
    section(
      'Answer',
      'Answer with a JSON object {"approved": true or false, "notes": "specific notes on every concern, or why it is safe"}.',
    ),
  ]);
}

export function buildSummaryPrompt(input: {
  request: string;
  outputs: readonly StepOutputBrief[];
  safety: { approved: boolean; notes: string };
}): string {
  return lines([
    section('The request', input.request),
    trimmedSection('What the team produced', outputsSection(input.outputs)),
    section(
      'Safety review',
      `${input.safety.approved ? 'Approved' : 'NOT approved'}. ${input.safety.notes}`,
    ),
    section(
      'Answer',
      'Write a concise summary for the user: what was produced, the key decisions, and anything that needs their attention.',
    ),
  ]);
}
