import { z } from 'zod';
import type { AgentBrief, CallContext, StepOutputBrief } from '../../src/modules/llm/llm.types';
import { LlmError } from '../../src/modules/llm/llm.types';
import { excerpt, offlinePlan, subjectOf } from '../../src/modules/llm/offline-answers';
import { OfflineProvider, estimateTokens } from '../../src/modules/llm/offline.provider';
import { BUILTIN_AGENTS } from '../../src/modules/agents/builtin-agents';
import { planSchema } from '../helpers/plan-schema';

type Plan = z.infer<typeof planSchema>;

const safetySchema = z.object({ approved: z.boolean(), notes: z.string().min(1) });

function agent(type: string, description = ''): AgentBrief {
  return { type, name: type.charAt(0).toUpperCase() + type.slice(1), description };
}

const CATALOGUE = BUILTIN_AGENTS.map((builtin) => agent(builtin.type));

const BAKERY = 'Research, design and build a landing page for a bakery';

function planContext(
  request: string,
  agents: AgentBrief[] = CATALOGUE,
  maxSteps = 12,
): Extract<CallContext, { purpose: 'plan' }> {
  return { purpose: 'plan', request, agents, maxSteps };
}

async function generate<T>(
  context: CallContext,
  schema?: z.ZodType<T>,
  provider = new OfflineProvider(0),
  signal: AbortSignal = new AbortController().signal,
) {
  return provider.generate<T>({
    model: 'offline',
    system: 'You are an agent.',
    prompt: 'Do the thing.',
    context,
    schema,
    signal,
  });
}

/** Every structural rule the orchestrator checks: keys, agents, dependencies, no cycles. */
function expectValidPlan(plan: Plan, agents: AgentBrief[], maxSteps = 12): void {
  const keys = plan.steps.map((s) => s.key);
  expect(new Set(keys).size).toBe(keys.length);
  expect(plan.steps.length).toBeGreaterThanOrEqual(1);
  expect(plan.steps.length).toBeLessThanOrEqual(maxSteps);
  const allowed = new Set(agents.map((a) => a.type));
  const seen = new Set<string>();
  for (const step of plan.steps) {
    expect(allowed.has(step.agentType)).toBe(true);
    expect(['orchestrator', 'safety']).not.toContain(step.agentType);
    // Dependencies point at earlier steps only: they exist and there can be no cycle.
    for (const dependency of step.dependsOn) expect(seen.has(dependency)).toBe(true);
    seen.add(step.key);
  }
}

describe('offline model: plans', () => {
  it('plans a multi-part request over several agent types with real dependencies', async () => {
    const response = await generate(planContext(BAKERY), planSchema);
    const plan = response.object;
    if (plan === undefined) throw new Error('no plan');

    expect(JSON.parse(response.text)).toEqual(plan);
    expectValidPlan(plan, CATALOGUE);
    expect(plan.steps.length).toBeGreaterThanOrEqual(3);
    expect(new Set(plan.steps.map((s) => s.agentType)).size).toBeGreaterThanOrEqual(2);
    const byKey = new Map(plan.steps.map((s) => [s.key, s]));
    expect(byKey.get('research')?.dependsOn).toEqual([]);
    expect(byKey.get('design')?.dependsOn).toEqual(['research']);
    expect(byKey.get('build')?.dependsOn).toEqual(['design']);
    expect(byKey.get('review')?.dependsOn).toEqual(['research', 'design', 'build']);
    for (const step of plan.steps) expect(step.instructions).toContain(BAKERY);
  });

  it('is deterministic', async () => {
    const first = await generate(planContext(BAKERY), planSchema);
    const second = await generate(planContext(BAKERY), planSchema);
    expect(second.text).toBe(first.text);
    expect(second.object).toEqual(first.object);
  });

  it.each([
    ['Write a blog post about sourdough', ['research', 'write', 'review']],
    ['Plan a launch for our new app', ['research', 'write', 'review']],
    ['Build a REST API for todo items', ['research', 'build', 'review']],
    ['Build a landing page for a bakery', ['research', 'design', 'build', 'review']],
    ['Investigate our competitors and write an email to the team', ['research', 'write', 'review']],
    ['Review my essay on climate', ['review']],
    ['Tell me about tea', ['research', 'write', 'review']],
  ])('plans "%s" as %j', (request, keys) => {
    const plan = offlinePlan(planContext(request));
    expectValidPlan(plan, CATALOGUE);
    expect(plan.steps.map((s) => s.key)).toEqual(keys);
  });

  it('falls back to research then writing when nothing is recognised', () => {
    const agents = CATALOGUE.filter((a) => a.type !== 'reviewer');
    const plan = offlinePlan(planContext('Tell me about tea', agents));
    expect(plan.steps.map((s) => [s.key, s.agentType, s.dependsOn])).toEqual([
      ['research', 'researcher', []],
      ['write', 'writer', ['research']],
    ]);
  });

  it('uses only the agents of a restricted catalogue', () => {
    const onlyWriter = [agent('orchestrator'), agent('safety'), agent('writer')];
    const writerPlan = offlinePlan(planContext(BAKERY, onlyWriter));
    expectValidPlan(writerPlan, onlyWriter);
    expect(writerPlan.steps.map((s) => s.agentType)).toEqual(['writer']);

    const researchAndCode = [agent('orchestrator'), agent('researcher'), agent('coder')];
    const codePlan = offlinePlan(planContext(BAKERY, researchAndCode));
    expectValidPlan(codePlan, researchAndCode);
    expect(codePlan.steps.map((s) => [s.key, s.dependsOn])).toEqual([
      ['research', []],
      ['build', ['research']],
    ]);

    const custom = [agent('translator', 'Translates text')];
    const customPlan = offlinePlan(planContext('Say hello', custom));
    expect(customPlan.steps.map((s) => s.agentType)).toEqual(['translator']);
  });

  it('gives a step to a custom agent the request mentions', () => {
    const agents = [...CATALOGUE, agent('translator', 'Translates text')];
    const plan = offlinePlan(planContext('Translate the bakery menu into French', agents));
    expectValidPlan(plan, agents);
    expect(plan.steps.find((s) => s.agentType === 'translator')?.dependsOn).toEqual(['research']);
  });

  it('never plans more than maxSteps', () => {
    for (const maxSteps of [1, 2, 3]) {
      const plan = offlinePlan(
        planContext(`${BAKERY}, and write the launch email`, CATALOGUE, maxSteps),
      );
      expectValidPlan(plan, CATALOGUE, maxSteps);
      expect(plan.steps).toHaveLength(maxSteps);
    }
  });

  it('still answers a valid plan on a repair attempt', async () => {
    const context = { ...planContext(BAKERY), previousErrors: ['step "x" depends on unknown "y"'] };
    const response = await generate(context, planSchema);
    if (response.object === undefined) throw new Error('no plan');
    expectValidPlan(response.object, CATALOGUE);
  });

  it('answers malformed_response when the schema cannot be satisfied', async () => {
    const strict = z.object({ tasks: z.array(z.string()) });
    await expect(generate(planContext(BAKERY), strict)).rejects.toMatchObject({
      code: 'malformed_response',
    });
  });

  it('finds the subject of a request', () => {
    expect(subjectOf(BAKERY)).toBe('a landing page for a bakery');
    expect(subjectOf('Please write a blog post about sourdough.')).toBe(
      'a blog post about sourdough',
    );
    expect(subjectOf('What is the meaning of life?')).toBe('what is the meaning of life');
  });
});

describe('offline model: steps, safety and summary', () => {
  const research: StepOutputBrief = {
    key: 'research',
    title: 'Research the bakery market',
    agentType: 'researcher',
    output: '## Research\n\nCustomers love sourdough baked before 7 am and want online pre-orders.',
  };
  const design: StepOutputBrief = {
    key: 'design',
    title: 'Design the landing page',
    agentType: 'designer',
    output: 'Hero with a photo of fresh loaves, warm palette, a pre-order button.',
  };

  function stepContext(agentType: string, dependencies: StepOutputBrief[] = []) {
    return {
      purpose: 'step' as const,
      request: BAKERY,
      agentType,
      title: `The ${agentType} step`,
      instructions: `Do the ${agentType} part of the work`,
      dependencies,
    };
  }

  it('uses the request, the brief and every dependency output', async () => {
    const { text } = await generate(stepContext('coder', [research, design]));
    expect(text).toContain(BAKERY);
    expect(text).toContain('The coder step');
    expect(text).toContain('Do the coder part of the work');
    expect(text).toContain('Research the bakery market');
    expect(text).toContain('Customers love sourdough baked before 7 am');
    expect(text).toContain('Design the landing page');
    expect(text).toContain('Hero with a photo of fresh loaves');
  });

  it.each([
    ['researcher', /### Key insights/],
    ['designer', /### Palette[\s\S]*#[0-9A-F]{6}/],
    ['coder', /```html[\s\S]*<h1>/],
    ['writer', /\*\*Headline:\*\*/],
    ['reviewer', /### Issues[\s\S]*Research the bakery market/],
    ['translator', /### Deliverable/],
  ])('shapes the %s deliverable', async (agentType, pattern) => {
    const { text } = await generate(stepContext(agentType, [research]));
    expect(text).toMatch(pattern);
  });

  it('estimates usage from the characters, never zero', async () => {
    const response = await generate(stepContext('writer'));
    expect(response.usage.inputTokens).toBe(
      estimateTokens('You are an agent.') + estimateTokens('Do the thing.'),
    );
    expect(response.usage.outputTokens).toBe(Math.ceil(response.text.length / 4));
    expect(response.usage.inputTokens).toBeGreaterThan(0);
  });

  it('approves clean outputs and rejects one that leaks a secret, without repeating it', async () => {
    const clean = await generate(
      { purpose: 'safety', request: BAKERY, outputs: [research, design] },
      safetySchema,
    );
    expect(clean.object).toMatchObject({ approved: true });
    expect(JSON.parse(clean.text)).toEqual(clean.object);

    const secret = 'sk-live-abcdefghijklmnopqrstuvwxyz';
    const leaky = { ...design, output: `const key = "${secret}";` };
    const rejected = await generate(
      { purpose: 'safety', request: BAKERY, outputs: [research, leaky] },
      safetySchema,
    );
    expect(rejected.object?.approved).toBe(false);
    expect(rejected.object?.notes).toMatch(/Design the landing page.*secret API key/);
    expect(rejected.object?.notes).not.toContain(secret);
  });

  it('summarises every step with its agent and the safety verdict', async () => {
    const { text } = await generate({
      purpose: 'summary',
      request: BAKERY,
      outputs: [research, design],
      safety: { approved: true, notes: 'Nothing sensitive found.' },
    });
    expect(text).toContain('Research the bakery market');
    expect(text).toContain('researcher');
    expect(text).toContain('Design the landing page');
    expect(text).toContain('designer');
    expect(text).toMatch(/approved\. Nothing sensitive found\./);
  });
});

describe('offline model: latency and abort', () => {
  it('waits the configured latency', async () => {
    const started = Date.now();
    await generate(planContext(BAKERY), undefined, new OfflineProvider(60));
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
  });

  it('is aborted during its latency', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 20);

    const result = generate(
      planContext(BAKERY),
      undefined,
      new OfflineProvider(5000),
      controller.signal,
    );

    await expect(result).rejects.toBeInstanceOf(LlmError);
    await expect(result).rejects.toMatchObject({ code: 'aborted' });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('refuses an already aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      generate(planContext(BAKERY), undefined, new OfflineProvider(0), controller.signal),
    ).rejects.toMatchObject({ code: 'aborted' });
  });
});

describe('offline model: excerpts of earlier outputs', () => {
  it('flattens markdown to one line and cuts at a word, also for long outputs', () => {
    const long = `## Findings\n\n- **Audience**: local families\n- Prices *above* average\n\n${'More detail here. '.repeat(200)}`;
    const short = excerpt(long, 60);
    expect(short).toBe('Findings - Audience : local families - Prices above average…');
    expect(short.length).toBeLessThanOrEqual(61);
  });

  it('reads past a long run of blank space or markup at the start', () => {
    const text = `${' \n'.repeat(400)}${'#'.repeat(300)} The real opening words come only here`;
    expect(excerpt(text, 20)).toBe('The real opening…');
    expect(excerpt('Short and plain', 20)).toBe('Short and plain');
  });

  it('treats every kind of whitespace and markup run as one space', () => {
    expect(excerpt('a\u00a0\u00a0b\t\u2003c\r\n>_d**e', 40)).toBe('a b c d e');
    expect(excerpt('***', 10)).toBe('');
    expect(excerpt('one-very-long-word-without-any-break', 10)).toBe('one-very-l…');
  });

  it('quotes a step by what it says, not by its heading or brief', async () => {
    const summary = (output: string) =>
      generate({
        purpose: 'summary',
        request: BAKERY,
        outputs: [{ key: 'k', title: 'Step', agentType: 'writer', output }],
        safety: { approved: true, notes: 'ok' },
      }).then((r) => r.text.split('\n').find((line) => line.startsWith('1. ')));
    await expect(
      summary('## Step\n\n_Request:_ "the request"\n\n**Brief:** the brief\n\nThe substance.'),
    ).resolves.toBe('1. **Step** (writer): The substance.');
    // Nothing but a heading: the heading is the excerpt.
    await expect(summary('## Only a heading')).resolves.toBe(
      '1. **Step** (writer): Only a heading',
    );
  });
});
