import {
  buildPlanPrompt,
  buildSafetyPrompt,
  buildStepPrompt,
  buildSummaryPrompt,
} from '../../src/modules/orchestrator/prompts';
import { hashSubmission } from '../../src/modules/orchestrator/orchestrator.service';

describe('prompt building', () => {
  const outputs = [
    {
      key: 'research',
      title: 'Research the market',
      agentType: 'researcher',
      output: 'Bakeries love sourdough.',
    },
  ];

  it('gives the planner the request, the catalogue and the answer format', () => {
    const prompt = buildPlanPrompt({
      request: 'Build a bakery site',
      agents: [{ type: 'coder', name: 'Coder', description: 'Writes code' }],
    });
    expect(prompt).toContain('Build a bakery site');
    expect(prompt).toContain('- coder: Coder. Writes code');
    expect(prompt).toMatch(/"steps"/);
    expect(prompt).not.toMatch(/rejected/);
  });

  it('shows the planner its previous errors on a repair attempt', () => {
    const prompt = buildPlanPrompt({
      request: 'x',
      agents: [],
      previousErrors: ['step "a": depends on "b", which is not a step of the plan'],
    });
    expect(prompt).toMatch(/previous plan was rejected/);
    expect(prompt).toContain('depends on "b"');
  });

  it('gives a step the request, its instructions and the outputs it depends on', () => {
    const prompt = buildStepPrompt({
      request: 'Build a bakery site',
      title: 'Write the copy',
      instructions: 'Write the hero text',
      dependencies: outputs,
    });
    expect(prompt).toContain('Build a bakery site');
    expect(prompt).toContain('Write the hero text');
    expect(prompt).toContain('Bakeries love sourdough.');
    expect(prompt).toContain('Research the market');
  });

  it('leaves the dependency section out for a root step', () => {
    const prompt = buildStepPrompt({
      request: 'r',
      title: 't',
      instructions: 'i',
      dependencies: [],
    });
    expect(prompt).not.toContain('Results of the steps');
  });

  it('gives safety and summary the outputs and the verdict', () => {
    expect(buildSafetyPrompt({ request: 'r', outputs })).toMatch(/"approved"/);
    const summary = buildSummaryPrompt({
      request: 'r',
      outputs,
      safety: { approved: false, notes: 'leaks a key' },
    });
    expect(summary).toContain('NOT approved');
    expect(summary).toContain('leaks a key');
  });

  it('quotes each output trimmed under its heading, the section trimmed as a whole', () => {
    const quoted = [
      { key: 'a', title: 'First', agentType: 'researcher', output: '\n  one\n' },
      { key: 'b', title: 'Empty', agentType: 'writer', output: ' \t\n' },
      { key: 'c', title: 'Last empty', agentType: 'coder', output: '\u2028 ' },
    ];
    const safety = buildSafetyPrompt({ request: ' r ', outputs: quoted });
    expect(safety).toBe(
      [
        '## The request\nr\n',
        '## Outputs to review\n' +
          '### First (step "a", by the researcher)\none\n\n' +
          '### Empty (step "b", by the writer)\n\n\n' +
          '### Last empty (step "c", by the coder)\n',
        '## Answer\nAnswer with a JSON object {"approved": true or false, "notes": "specific notes on every concern, or why it is safe"}.\n',
      ].join('\n'),
    );
    const step = buildStepPrompt({
      request: 'r',
      title: 't',
      instructions: 'i',
      dependencies: quoted.slice(0, 1),
    });
    expect(step).toBe(
      [
        '## The overall request\nr\n',
        '## Your step: t\ni\n',
        '## Results of the steps you build on\n### First (step "a", by the researcher)\none\n',
        '## Answer\nDeliver the result of your step itself, complete and ready to use.\n',
      ].join('\n'),
    );
  });

  it('hashes submissions independently of key order', () => {
    const a = hashSubmission({ request: 'r', requireApproval: false, metadata: { a: 1, b: 2 } });
    const b = hashSubmission({ metadata: { b: 2, a: 1 }, requireApproval: false, request: 'r' });
    const c = hashSubmission({ request: 'other', requireApproval: false });
    expect(a).toBe(b);
    expect(a).not.toBe(c);
  });
});
