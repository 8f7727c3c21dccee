import { execFileSync } from 'node:child_process';
import { CLI, cliDir, cliEnv, ensureCliBuilt, killAllCli, spawnCli } from '../helpers/cli';

/**
 * The live view as a person sees it: `broski run` on a pseudo-terminal (util-linux `script`),
 * with a slow offline model so the spinners, ✓ marks and timings are redrawn in place.
 */
function which(command: string): boolean {
  try {
    execFileSync('which', [command], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const hasScript = which('script');
const SPINNER = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/;
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

beforeAll(ensureCliBuilt);
afterAll(killAllCli);

(hasScript ? describe : describe.skip)('broski on a terminal', () => {
  it('shows the plan, spinners while steps run, then ✓ with times and the result', async () => {
    const env = cliEnv(cliDir(), { OFFLINE_LATENCY_MS: '300', TERM: 'xterm-256color' });
    const quoted = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
    const command = `stty rows 40 cols 120 2>/dev/null; exec ${quoted(process.execPath)} ${quoted(CLI)} run 'Build a landing page for a bakery'`;
    const child = spawnCli([], env, {
      command: ['script', '-qec', command, '/dev/null'],
      limitMs: 30_000,
    });
    const result = await child.exited;
    expect(result.code).toBe(0);
    const raw = result.stdout;
    // Redrawn in place: lines erased and the cursor moved up.
    expect(raw).toContain('\u001b[2K');
    expect(raw).toContain('\u001b[1A');
    const text = raw.replace(ANSI, '');
    expect(text).toMatch(new RegExp(`${SPINNER.source} Planning`));
    expect(text).toMatch(/✓ Planned \d+ steps \d+\.\ds/);
    expect(text).toMatch(
      new RegExp(`${SPINNER.source} research +Research .+ · researcher \\d+\\.\\ds`),
    );
    expect(text).toMatch(/◦ design +Design .+ waits for research/);
    expect(text).toMatch(/✓ research +Research .+ · researcher \d+\.\ds/);
    expect(text).toMatch(/✓ Safety review and summary \d+\.\ds/);
    expect(text).toMatch(/✓ Completed in \d+\.\ds/);
    expect(text).toContain('Summary');
    expect(text).toMatch(/Safety review: ✓ approved/);
    // Not the plain line-per-event output of a pipe.
    expect(text).not.toContain('task.started');
  });
});
