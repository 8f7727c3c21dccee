/**
 * The offline model's answers: pure, deterministic functions of the call context (no clock, no
 * randomness, no network), so that the whole platform works and can be tested without a key.
 */
import type { AgentBrief, CallContext, StepOutputBrief } from './llm.types';

export interface OfflinePlanStep {
  key: string;
  title: string;
  agentType: string;
  instructions: string;
  dependsOn: string[];
}

export interface OfflinePlan {
  steps: OfflinePlanStep[];
}

export interface OfflineSafetyVerdict {
  approved: boolean;
  notes: string;
}

/** What the offline model answers: the text, and the structured value when the purpose has one. */
export interface OfflineAnswer {
  text: string;
  value: unknown;
}

/** Agents that plan and review the whole workflow; never given a plan step. */
const RESERVED_AGENT_TYPES = new Set(['orchestrator', 'safety']);

type Part = 'research' | 'design' | 'build' | 'write' | 'review';

const PART_ORDER: readonly Part[] = ['research', 'design', 'build', 'write', 'review'];

const PART_AGENT: Record<Part, string> = {
  research: 'researcher',
  design: 'designer',
  build: 'coder',
  write: 'writer',
  review: 'reviewer',
};

const PART_KEYWORDS: Record<Part, RegExp> = {
  research:
    /\b(research\w*|investigat\w*|analy[sz]\w*|study|studies|explor\w*|compar\w*|competitors?|market|surveys?|find out)\b/i,
  design:
    /\b(design\w*|layouts?|brand\w*|ux|ui|wireframes?|mock-?ups?|logos?|style ?guides?|visual identity)\b/i,
  build: /\b(build\w*|built|code|coding|implement\w*|develop\w*|program\w*)\b/i,
  write:
    /\b(write|writes|writing|written|copy|copywriting|blogs?|content|e-?mails?|newsletters?|posts?|articles?|launch\w*|announce\w*|taglines?|slogans?|press releases?|documentation|docs|stories|story)\b/i,
  review: /\b(review\w*|check\w*|audit\w*|proofread\w*|critique\w*)\b/i,
};

/**
 * Things that are built. Alone they mean building ("a landing page for a bakery"); next to a
 * writing word they are only the topic ("write the copy for our website", "plan a launch").
 */
const BUILD_NOUNS =
  /\b(websites?|web ?sites?|web ?pages?|pages?|landing|apps?|applications?|apis?|endpoints?|scripts?|software|tools?|cli|bots?|databases?|dashboards?)\b/i;

/** A built thing people look at: worth a design step even when design was not asked for. */
const USER_FACING = /\b(websites?|web ?sites?|pages?|landing|apps?|applications?|ui|screens?)\b/i;

/** Words that only say what to do, skipped to find the subject ("a landing page for a bakery"). */
const ACTION_WORDS = new Set([
  'please',
  'and',
  'then',
  'also',
  'to',
  '&',
  'research',
  'investigate',
  'analyse',
  'analyze',
  'study',
  'explore',
  'compare',
  'design',
  'build',
  'code',
  'implement',
  'develop',
  'create',
  'make',
  'write',
  'draft',
  'plan',
  'prepare',
  'produce',
  'review',
  'check',
  'audit',
  'proofread',
]);

const LOWER_FIRST_WORDS = new Set(
  'A An The What How Why Who Which When Where My Our Your Their His Her Its This That These Those Some Any Each Every One Two Three'.split(
    ' ',
  ),
);

const PART_TEXT: Record<
  Part,
  { title: (subject: string) => string; instructions: (request: string) => string }
> = {
  research: {
    title: (s) => `Research ${s}`,
    instructions: (r) =>
      `Research what is needed for the request "${r}": the audience and their needs, the context, comparable offerings and constraints. Separate facts from assumptions and finish with the 3-5 insights that matter most for the rest of the team.`,
  },
  design: {
    title: (s) => `Design ${s}`,
    instructions: (r) =>
      `Design the structure, user flow and visual direction (palette, typography, imagery) for the request "${r}", building on the research. Be specific enough that it can be built without guessing; design for accessibility and small screens first.`,
  },
  build: {
    title: (s) => `Build ${s}`,
    instructions: (r) =>
      `Implement the request "${r}" as complete, working, readable code that follows the design and research you are given. Say briefly how to run it and what you assumed.`,
  },
  write: {
    title: (s) => `Write the copy for ${s}`,
    instructions: (r) =>
      `Write the copy the request "${r}" needs (headline, body text and a call to action, or the document asked for), in a voice that fits the audience from the research. Mark placeholders instead of inventing facts.`,
  },
  review: {
    title: (s) => `Review the work on ${s}`,
    instructions: (r) =>
      `Review every deliverable produced for the request "${r}": check that it answers the request, is consistent across steps, accurate, accessible and free of secrets. List concrete issues with fixes and give a verdict.`,
  },
};

// ---------------------------------------------------------------------------------------------
// Text helpers

/** Markdown marks that flattening turns into spaces, like whitespace: # * ` > _ */
function isMark(code: number): boolean {
  return code === 35 || code === 42 || code === 96 || code === 62 || code === 95;
}

/** What `\s` matches in a JavaScript regular expression. */
function isSpace(code: number): boolean {
  if (code <= 32) return code === 32 || (code >= 9 && code <= 13);
  if (code < 160) return false;
  return (
    code === 160 ||
    code === 5760 ||
    (code >= 8192 && code <= 8202) ||
    code === 8232 ||
    code === 8233 ||
    code === 8239 ||
    code === 8287 ||
    code === 12288 ||
    code === 65279
  );
}

function isSeparator(code: number): boolean {
  return isSpace(code) || isMark(code);
}

/**
 * Text flattened to one line (every run of whitespace and markdown marks one space, trimmed),
 * built from pieces word by word and only as far as `limit` characters: step outputs run to
 * kilobytes, and an excerpt needs its first line's worth.
 */
class FlatText {
  text = '';

  constructor(private readonly limit: number) {}

  get full(): boolean {
    return this.text.length >= this.limit;
  }

  /** Adds a piece; the boundary before it separates words like a space. */
  add(piece: string): void {
    const n = piece.length;
    let i = 0;
    while (i < n && !this.full) {
      while (i < n && isSeparator(piece.charCodeAt(i))) i += 1;
      if (i === n) return;
      let j = i + 1;
      while (j < n && !isSeparator(piece.charCodeAt(j))) j += 1;
      this.text += this.text === '' ? piece.slice(i, j) : ` ${piece.slice(i, j)}`;
      i = j;
    }
  }
}

/** A flattened text as it is when it fits in `max` characters, else cut at a word with an ellipsis. */
function cutAt(oneLine: string, max: number): string {
  if (oneLine.length <= max) return oneLine;
  const cut = oneLine.slice(0, max);
  const lastSpace = cut.lastIndexOf(' ');
  return `${(lastSpace > max / 2 ? cut.slice(0, lastSpace) : cut).trimEnd()}…`;
}

/** The text on one line (whitespace and markdown marks as single spaces), at most `max` + '…'. */
export function excerpt(text: string, max = 160): string {
  const flat = new FlatText(max + 1);
  flat.add(text);
  return cutAt(flat.text, max);
}

/** The object of the request: "Research, design and build a landing page" → "a landing page". */
export function subjectOf(request: string): string {
  const words = request.trim().split(/\s+/);
  let start = 0;
  while (start < words.length - 1) {
    const word = (words[start] ?? '').toLowerCase().replace(/[^a-z&]/g, '');
    if (word !== '' && !ACTION_WORDS.has(word)) break;
    start += 1;
  }
  const subject = words
    .slice(start)
    .join(' ')
    .replace(/[.!?;:,]+$/, '');
  const text = excerpt(subject === '' ? request.trim() : subject, 80) || 'the request';
  // "What is…" reads as "what is…" mid-sentence; names ("Paris …") keep their capital.
  const first = text.split(' ')[0] ?? '';
  return LOWER_FIRST_WORDS.has(first) ? first.toLowerCase() + text.slice(first.length) : text;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'step'
  );
}

/** FNV-1a: a stable small hash, to pick among fixed variants deterministically. */
function stableHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------------------------------------
// Plan

interface Candidate {
  key: string;
  agentType: string;
  part: Part | 'custom';
  title: string;
  instructions: string;
  /** Lower is kept first when the plan must be cut to maxSteps. */
  priority: number;
}

function customAgentMatches(agent: AgentBrief, request: string): boolean {
  const cues = new Set<string>();
  const type = agent.type.toLowerCase();
  cues.add(type.replace(/[-_]+/g, ' '));
  cues.add(agent.name.toLowerCase());
  if (/(er|or)$/.test(type) && type.length > 5) cues.add(type.slice(0, -2));
  return [...cues].some(
    (cue) => cue.length >= 3 && new RegExp(`\\b${escapeRegExp(cue)}`, 'i').test(request),
  );
}

/**
 * A multi-agent plan from keywords in the request, using only the catalogue's agents (never the
 * orchestrator or safety agent) and at most `maxSteps` steps. Dependencies follow the work: design
 * builds on research, code on design (or research), writing on research, a review on everything.
 */
export function offlinePlan(context: Extract<CallContext, { purpose: 'plan' }>): OfflinePlan {
  const request = context.request.trim();
  const subject = subjectOf(request);
  const available = context.agents.filter((a) => !RESERVED_AGENT_TYPES.has(a.type));
  const has = (type: string) => available.some((a) => a.type === type);
  const quoted = excerpt(request, 500);

  const wanted = new Map<Part, number>();
  for (const part of PART_ORDER) if (PART_KEYWORDS[part].test(request)) wanted.set(part, 1);
  if (!wanted.has('build') && !wanted.has('write') && BUILD_NOUNS.test(request)) {
    wanted.set('build', 1);
  }
  const builtinTypes = new Set(Object.values(PART_AGENT));
  const customs = available.filter(
    (a) => !builtinTypes.has(a.type) && customAgentMatches(a, request),
  );

  const mainParts = (['design', 'build', 'write'] as const).filter(
    (p) => wanted.has(p) && has(PART_AGENT[p]),
  );
  const hasMainWork = mainParts.length > 0 || customs.length > 0;
  // Implied work: a deliverable builds on research; something people look at gets designed.
  if (hasMainWork && !wanted.has('research')) wanted.set('research', 3);
  if (wanted.has('build') && !wanted.has('design') && USER_FACING.test(request)) {
    wanted.set('design', 3);
  }

  let candidates: Candidate[] = [];
  const usedKeys = new Set<string>();
  const uniqueKey = (base: string) => {
    let key = base;
    for (let n = 2; usedKeys.has(key); n += 1) key = `${base}-${n}`;
    usedKeys.add(key);
    return key;
  };
  const addPart = (part: Part, priority: number) => {
    if (!has(PART_AGENT[part])) return;
    candidates.push({
      key: uniqueKey(part),
      agentType: PART_AGENT[part],
      part,
      title: PART_TEXT[part].title(subject),
      instructions: PART_TEXT[part].instructions(quoted),
      priority,
    });
  };
  for (const part of ['research', 'design', 'build', 'write'] as const) {
    const priority = wanted.get(part);
    if (priority !== undefined) addPart(part, priority);
  }
  for (const agent of customs) {
    candidates.push({
      key: uniqueKey(slug(agent.type)),
      agentType: agent.type,
      part: 'custom',
      title: `${agent.name}: ${subject}`,
      instructions: `As the ${agent.name} (${agent.description.trim() || agent.type}), produce your deliverable for the request "${quoted}", building on the research you are given.`,
      priority: 1,
    });
  }

  const onlyReview = wanted.has('review') && has('reviewer');
  if (candidates.length === 0 && !onlyReview) {
    // No recognisable work: research the request, then write it up (with whatever agents exist).
    candidates = [];
    usedKeys.clear();
    addPart('research', 1);
    addPart('write', 1);
    if (candidates.length === 0 && available[0] !== undefined) {
      const agent = available[0];
      candidates.push({
        key: uniqueKey(slug(agent.type)),
        agentType: agent.type,
        part: 'custom',
        title: `${agent.name}: ${subject}`,
        instructions: `Handle the request "${quoted}" as the ${agent.name}: produce the complete deliverable it asks for.`,
        priority: 1,
      });
    }
  }

  const others = candidates.length;
  if (has('reviewer') && (wanted.has('review') || others >= 2)) {
    addPart('review', wanted.has('review') ? 2 : 4);
  }

  const limit = Math.max(1, Math.floor(context.maxSteps));
  const kept =
    candidates.length <= limit
      ? candidates
      : [...candidates]
          .map((c, index) => ({ c, index }))
          .sort((a, b) => a.c.priority - b.c.priority || a.index - b.index)
          .slice(0, limit)
          .sort((a, b) => a.index - b.index)
          .map(({ c }) => c);

  const keyOf = (part: Part) => kept.find((c) => c.part === part)?.key;
  const research = keyOf('research');
  const design = keyOf('design');
  const steps = kept.map((c): OfflinePlanStep => {
    let dependsOn: string[];
    switch (c.part) {
      case 'research':
        dependsOn = [];
        break;
      case 'design':
      case 'write':
      case 'custom':
        dependsOn = research === undefined ? [] : [research];
        break;
      case 'build':
        dependsOn = design !== undefined ? [design] : research !== undefined ? [research] : [];
        break;
      case 'review':
        dependsOn = kept.filter((o) => o.part !== 'review').map((o) => o.key);
        break;
    }
    return {
      key: c.key,
      title: c.title,
      agentType: c.agentType,
      instructions: c.instructions,
      dependsOn,
    };
  });
  return { steps };
}

// ---------------------------------------------------------------------------------------------
// Step

const PALETTES = [
  [
    ['Warm flour', '#F7F1E8'],
    ['Crust brown', '#8B5A2B'],
    ['Deep espresso', '#3B2A20'],
    ['Accent apricot', '#E8964A'],
  ],
  [
    ['Paper white', '#FAFAF7'],
    ['Ink navy', '#1F2A44'],
    ['Slate', '#5B6578'],
    ['Accent teal', '#1E9E8F'],
  ],
  [
    ['Soft sand', '#F4EDE4'],
    ['Forest green', '#2F5D50'],
    ['Charcoal', '#2B2B2B'],
    ['Accent coral', '#E4694F'],
  ],
  [
    ['Cloud', '#F5F7FA'],
    ['Indigo', '#3F3D9E'],
    ['Graphite', '#33363D'],
    ['Accent amber', '#F2A93B'],
  ],
] as const;

const HEADING_LINE = /^#{1,6}\s/;
const BRIEF_LINE = /^(_Request:_|\*\*Brief:\*\*)/;

/**
 * The excerpt of what an earlier step said, without its heading and brief lines (the whole
 * output when nothing else is left). Lines are read only until the excerpt is known.
 */
function substanceExcerpt(output: string, max: number): string {
  const flat = new FlatText(max + 1);
  let hasText = false;
  let start = 0;
  for (let index = 0; start <= output.length && !flat.full; index += 1) {
    const end = output.indexOf('\n', start);
    const line = output.slice(start, end === -1 ? undefined : end);
    start = end === -1 ? output.length + 1 : end + 1;
    if (index === 0 && HEADING_LINE.test(line)) continue;
    if (BRIEF_LINE.test(line)) continue;
    if (!hasText && /\S/.test(line)) hasText = true;
    flat.add(line);
  }
  return hasText ? cutAt(flat.text, max) : excerpt(output, max);
}

function dependencySection(dependencies: StepOutputBrief[]): string {
  if (dependencies.length === 0) return '';
  const lines = dependencies.map(
    (d) =>
      `- **${d.title}** (${d.agentType}, step \`${d.key}\`): "${substanceExcerpt(d.output, 160)}"`,
  );
  return `### Building on\n\n${lines.join('\n')}\n\n`;
}

function researcherBody(subject: string, request: string, deps: StepOutputBrief[]): string {
  const source =
    deps.length > 0
      ? `the earlier work (${deps.map((d) => `"${d.title}"`).join(', ')})`
      : 'the request';
  return [
    '### Findings',
    '',
    `- **Audience:** people looking for ${subject}; they want to understand quickly what is offered, why it is different and how to act on it.`,
    `- **Context:** the request ("${excerpt(request, 120)}") defines the scope; anything beyond it is an assumption to confirm with the requester.`,
    '- **Comparable offerings:** similar offerings usually lead with one clear promise, social proof and a single call to action.',
    `- **Constraints:** accessibility, small screens and a fast first impression; everything here is based on ${source} and marked as an assumption where not stated.`,
    '',
    '### Key insights',
    '',
    `1. Lead with what makes ${subject} distinctive, in one sentence.`,
    '2. Keep one primary call to action and make it visible without scrolling.',
    '3. Use concrete details (what, where, when) rather than general claims.',
    '4. Verify every fact, price and claim with the requester before publishing.',
  ].join('\n');
}

function designerBody(subject: string, request: string): string {
  const palette = PALETTES[stableHash(request) % PALETTES.length] ?? PALETTES[0];
  return [
    '### Structure',
    '',
    `1. **Hero:** headline about ${subject}, one-line promise, primary call to action.`,
    '2. **What we offer:** three cards with a short title, one sentence and an image each.',
    '3. **Why us:** the key insights from research, as short proof points.',
    '4. **Social proof:** testimonials or highlights (placeholders until real ones exist).',
    '5. **Call to action and contact:** repeat the primary action; address, hours, links.',
    '',
    '### Palette',
    '',
    ...palette.map(([name, hex]) => `- ${name}: \`${hex}\``),
    '',
    '### Typography and accessibility',
    '',
    '- Headings in a friendly serif, body in a readable sans-serif at 16 px minimum.',
    '- Contrast of at least 4.5:1 for text; visible focus states; mobile-first single column.',
  ].join('\n');
}

function coderBody(subject: string, title: string, request: string): string {
  if (/\b(api|apis|endpoints?|backend|server|service)\b/i.test(request)) {
    return [
      '### Implementation',
      '',
      '```ts',
      "import { createServer } from 'node:http';",
      '',
      `// ${title.replace(/\n/g, ' ')}`,
      'const server = createServer((req, res) => {',
      "  if (req.method === 'GET' && req.url === '/health') {",
      "    res.writeHead(200, { 'content-type': 'application/json' });",
      "    res.end(JSON.stringify({ status: 'ok' }));",
      '    return;',
      '  }',
      "  res.writeHead(404, { 'content-type': 'application/json' });",
      "  res.end(JSON.stringify({ error: 'not found' }));",
      '});',
      '',
      'server.listen(3000);',
      '```',
      '',
      '### How to run',
      '',
      '`npx tsx server.ts`, then open http://localhost:3000/health. Assumes Node 20 or newer.',
    ].join('\n');
  }
  if (USER_FACING.test(request) || /\bhtml\b/i.test(request)) {
    const heading = escapeHtml(capitalize(subject));
    return [
      '### Implementation',
      '',
      '```html',
      '<!doctype html>',
      '<html lang="en">',
      '  <head>',
      '    <meta charset="utf-8" />',
      '    <meta name="viewport" content="width=device-width, initial-scale=1" />',
      `    <title>${heading}</title>`,
      '    <style>',
      '      body { margin: 0; font-family: system-ui, sans-serif; line-height: 1.5; }',
      '      .hero { padding: 4rem 1.5rem; text-align: center; }',
      '      .cta { display: inline-block; padding: 0.75rem 1.5rem; border-radius: 0.5rem; }',
      '    </style>',
      '  </head>',
      '  <body>',
      '    <main>',
      '      <section class="hero">',
      `        <h1>${heading}</h1>`,
      '        <p>[One-line promise from the copy]</p>',
      '        <a class="cta" href="#contact">[Primary call to action]</a>',
      '      </section>',
      '      <section id="contact"><h2>Contact</h2><p>[Address, hours, links]</p></section>',
      '    </main>',
      '  </body>',
      '</html>',
      '```',
      '',
      '### How to run',
      '',
      'Save as `index.html` and open it in a browser; no build step. Placeholders are in brackets.',
    ].join('\n');
  }
  return [
    '### Implementation',
    '',
    '```ts',
    `/** ${title.replace(/\*\//g, '')} */`,
    'export function run(input: string): string {',
    "  if (input.trim() === '') throw new Error('input is required');",
    '  return input.trim();',
    '}',
    '```',
    '',
    '### How to run',
    '',
    'Import `run` from this module (TypeScript, Node 20 or newer) and call it with your input.',
  ].join('\n');
}

function writerBody(subject: string): string {
  const Subject = capitalize(subject);
  return [
    '### Copy',
    '',
    `**Headline:** ${Subject}, made with care`,
    '',
    `**Subheadline:** Everything you need to know about ${subject}, in one place.`,
    '',
    `**Body:** ${Subject} is built around the people it serves. Every detail is chosen to be useful, honest and easy to act on. [Add the concrete details: what, where, when.]`,
    '',
    '**Call to action:** Get started today',
  ].join('\n');
}

function reviewerBody(deps: StepOutputBrief[]): string {
  const issues =
    deps.length === 0
      ? ['- No earlier deliverables were given; review the request itself for scope and clarity.']
      : deps.map(
          (d) =>
            `- **${d.title}** (${d.agentType}): confirm it fully answers its brief, replace bracketed placeholders and verify any facts before publishing.`,
        );
  return [
    '### Issues',
    '',
    ...issues,
    '- Consistency: use the same names, tone and call to action across every deliverable.',
    '- Accessibility: check contrast, headings order and keyboard use.',
    '',
    '### Verdict',
    '',
    'Ready once the issues above are addressed; nothing blocking was found.',
  ].join('\n');
}

function genericBody(subject: string, agentType: string): string {
  return [
    '### Deliverable',
    '',
    `- Scope: ${subject}, as the ${agentType} sees it.`,
    '- Approach: start from the brief and the earlier steps, keep what is established separate from assumptions.',
    '- Result: the concrete output the brief asks for, with open questions listed for the requester.',
  ].join('\n');
}

/** A markdown deliverable shaped by the agent type that uses the brief and every dependency. */
export function offlineStep(context: Extract<CallContext, { purpose: 'step' }>): string {
  const subject = subjectOf(context.request);
  let body: string;
  switch (context.agentType) {
    case 'researcher':
      body = researcherBody(subject, context.request, context.dependencies);
      break;
    case 'designer':
      body = designerBody(subject, context.request);
      break;
    case 'coder':
      body = coderBody(subject, context.title, context.request);
      break;
    case 'writer':
      body = writerBody(subject);
      break;
    case 'reviewer':
      body = reviewerBody(context.dependencies);
      break;
    default:
      body = genericBody(subject, context.agentType);
  }
  return [
    `## ${context.title}`,
    '',
    `_Request:_ "${excerpt(context.request, 300)}"`,
    '',
    `**Brief:** ${excerpt(context.instructions, 400)}`,
    '',
    `${dependencySection(context.dependencies)}${body}`,
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Safety and summary

const SECRET_MARKERS: ReadonlyArray<{ pattern: RegExp; what: string }> = [
  { pattern: /\bsk-[A-Za-z0-9_-]{12,}/, what: 'what looks like a secret API key (sk-…)' },
  { pattern: /\bpassword\s*[=:]\s*\S+/i, what: 'a password assignment (password=…)' },
  { pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/, what: 'a private key block' },
  { pattern: /\bAKIA[0-9A-Z]{16}\b/, what: 'what looks like an AWS access key (AKIA…)' },
];

/** Approves unless an output contains something that looks like a secret (never quoted back). */
export function offlineSafety(
  context: Extract<CallContext, { purpose: 'safety' }>,
): OfflineSafetyVerdict {
  const findings: string[] = [];
  for (const output of context.outputs) {
    for (const marker of SECRET_MARKERS) {
      if (marker.pattern.test(output.output)) {
        findings.push(`"${output.title}" (${output.key}) contains ${marker.what}`);
      }
    }
  }
  if (findings.length > 0) {
    return {
      approved: false,
      notes: `Not approved: ${findings.join('; ')}. Remove secrets from the outputs and rotate them before publishing.`,
    };
  }
  const checked = context.outputs.map((o) => `"${o.title}"`).join(', ') || 'no outputs';
  return {
    approved: true,
    notes: `Approved: checked ${context.outputs.length} output(s) (${checked}) for leaked secrets, credentials and unsafe content; nothing found.`,
  };
}

/** A readable summary naming each step, its agent and the safety verdict. */
export function offlineSummary(context: Extract<CallContext, { purpose: 'summary' }>): string {
  const steps = context.outputs.map(
    (o, i) => `${i + 1}. **${o.title}** (${o.agentType}): ${substanceExcerpt(o.output, 140)}`,
  );
  const verdict = context.safety.approved ? 'approved' : 'not approved';
  return [
    '## Summary',
    '',
    `Request: "${excerpt(context.request, 300)}"`,
    '',
    `The team completed ${context.outputs.length} step(s):`,
    '',
    ...steps,
    '',
    `**Safety review:** ${verdict}. ${context.safety.notes}`,
    '',
  ].join('\n');
}

/** The offline answer for a call context. */
export function offlineAnswer(context: CallContext): OfflineAnswer {
  switch (context.purpose) {
    case 'plan': {
      const plan = offlinePlan(context);
      return { text: JSON.stringify(plan), value: plan };
    }
    case 'step':
      return { text: offlineStep(context), value: undefined };
    case 'safety': {
      const verdict = offlineSafety(context);
      return { text: JSON.stringify(verdict), value: verdict };
    }
    case 'summary':
      return { text: offlineSummary(context), value: undefined };
  }
}
