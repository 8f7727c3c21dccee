import { Command, CommandRunner } from 'nest-commander';

/** `broski serve`: the API server (and, with RUN_WORKERS=true, the queue processors). */
@Command({
  name: 'serve',
  description:
    'Start the HTTP API on HOST:PORT (also runs the queue processors unless RUN_WORKERS=false)',
})
export class ServeCommand extends CommandRunner {
  async run(): Promise<void> {
    // Loaded here, not at the top: the API module graph is what would make `--help` slow.
    const { runServe } = await import('../../../app/serve');
    await runServe();
    // The server runs until a signal closes it (runServe's handler exits the process).
    await new Promise<never>(() => undefined);
  }
}
