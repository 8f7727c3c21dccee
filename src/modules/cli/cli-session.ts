import type { Command } from 'commander';
import { z } from 'zod';
import { loadConfigFromProcess, type AppConfig } from '../../config/app-config';
import { UsageError } from './cli-errors';
import type { BroskiClient } from './client/broski-client';
import { HttpClient, normalizeApiUrl } from './client/http.client';
import type { InProcessClient } from './client/in-process.client';
import { Output } from './output/output';
import { messageOf } from '../../common/error-message';

/** The flags every command accepts (declared once on the program: see cli-program.ts). */
export const globalOptionsSchema = z.object({
  apiUrl: z.string().optional(),
  apiKey: z.string().optional(),
  json: z.boolean().default(false),
  verbose: z.boolean().default(false),
});
export type GlobalOptions = z.infer<typeof globalOptionsSchema>;

/**
 * What a command runs with: the parsed global flags, the configuration, the output, and the
 * client — HTTP when `--api-url` or BROSKI_API_URL names a server, otherwise in-process.
 */
export class CliSession {
  private client: BroskiClient | undefined;

  private constructor(
    readonly options: GlobalOptions,
    readonly config: AppConfig,
    readonly output: Output,
    /** The server's base URL in HTTP mode, undefined in-process. */
    readonly apiUrl: string | undefined,
  ) {}

  static fromCommand(command: Command): CliSession {
    const options = parseGlobalOptions(command.optsWithGlobals());
    return CliSession.create(options);
  }

  static create(options: GlobalOptions): CliSession {
    const config = loadConfigFromProcess();
    const rawUrl = options.apiUrl ?? config.cli.apiUrl;
    let apiUrl: string | undefined;
    if (rawUrl !== undefined) {
      try {
        apiUrl = normalizeApiUrl(rawUrl);
      } catch (error) {
        throw new UsageError(`--api-url: ${messageOf(error)}`);
      }
    }
    return new CliSession(options, config, new Output(options), apiUrl);
  }

  get mode(): 'http' | 'in-process' {
    return this.apiUrl === undefined ? 'in-process' : 'http';
  }

  /**
   * The client for this session. `execute`: in-process, also run workflows in this process
   * (job processors); commands that follow a workflow to its end ask for it.
   */
  async connect(execute: boolean): Promise<BroskiClient> {
    if (this.client !== undefined) return this.client;
    if (this.apiUrl !== undefined) {
      this.client = new HttpClient(this.apiUrl, this.options.apiKey ?? this.config.cli.apiKey);
    } else {
      // Loaded only when needed: the core module graph is what makes `--help` slow otherwise.
      const { InProcessClient } = await import('./client/in-process.client');
      this.client = new InProcessClient(this.config, {
        execute,
        verbose: this.options.verbose,
        liveView: this.output.interactive,
      });
    }
    return this.client;
  }

  /**
   * An in-process client whatever the mode, for what only exists in the local database (API
   * keys). `--api-url` given on the command line is a usage error there.
   */
  async connectLocal(what: string): Promise<InProcessClient> {
    if (this.options.apiUrl !== undefined) {
      throw new UsageError(
        `${what} work on the local database (DATABASE_PATH), not through a server: run it on the server's host without --api-url`,
      );
    }
    const { InProcessClient } = await import('./client/in-process.client');
    const client = new InProcessClient(this.config, {
      execute: false,
      verbose: this.options.verbose,
      liveView: false,
    });
    this.client = client;
    return client;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.close();
  }
}

export function parseGlobalOptions(raw: Record<string, unknown>): GlobalOptions {
  const parsed = globalOptionsSchema.safeParse({
    apiUrl: raw.apiUrl,
    apiKey: raw.apiKey,
    json: raw.json,
    verbose: raw.verbose,
  });
  if (!parsed.success) throw new UsageError('invalid global options');
  return parsed.data;
}
