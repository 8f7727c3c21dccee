import Table from 'cli-table3';
import pc from 'picocolors';

export type Colors = ReturnType<typeof pc.createColors>;

/** The part of a stream Output writes to (process.stdout, or a buffer in tests). */
export interface OutStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
}

const BORDERLESS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '  ',
};

/**
 * Where commands print. stdout carries the result (and only JSON with --json); stderr carries
 * notes and hints, so `id=$(broski run … --detach)` and `--json | jq` stay clean. Colors only on
 * a terminal (and never with NO_COLOR).
 */
export class Output {
  readonly json: boolean;
  readonly verbose: boolean;
  readonly colors: Colors;
  readonly errColors: Colors;

  constructor(
    options: { json: boolean; verbose: boolean },
    readonly stdout: OutStream = process.stdout,
    readonly stderr: OutStream = process.stderr,
  ) {
    this.json = options.json;
    this.verbose = options.verbose;
    this.colors = pc.createColors(pc.isColorSupported && stdout.isTTY === true);
    this.errColors = pc.createColors(pc.isColorSupported && stderr.isTTY === true);
  }

  /** True when live progress may redraw the terminal (a TTY, and not --json). */
  get interactive(): boolean {
    return !this.json && this.stdout.isTTY === true;
  }

  get width(): number {
    return this.stdout.columns || 100;
  }

  line(text = ''): void {
    this.stdout.write(`${text}\n`);
  }

  lines(texts: readonly string[]): void {
    if (texts.length > 0) this.stdout.write(`${texts.join('\n')}\n`);
  }

  /** A hint or a note for the person at the terminal (stderr). */
  note(text: string): void {
    this.stderr.write(`${text}\n`);
  }

  printJson(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** A plain aligned table (no borders), bold headers on a terminal. */
  table(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
    const table = new Table({
      head: head.map((h) => this.colors.bold(h)),
      chars: BORDERLESS,
      style: { 'padding-left': 0, 'padding-right': 0, head: [], border: [], compact: true },
    });
    for (const row of rows) table.push([...row]);
    return table
      .toString()
      .split('\n')
      .map((l) => l.trimEnd())
      .join('\n');
  }
}
