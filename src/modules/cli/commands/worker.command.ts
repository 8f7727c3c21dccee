import { Command, CommandRunner } from 'nest-commander';

/** `broski worker`: the queue processors only, no HTTP API (needs the BullMQ driver). */
@Command({
  name: 'worker',
  description:
    'Start a queue worker (no HTTP API; needs REDIS_URL): run as many as you like next to `broski serve`',
})
export class WorkerCommand extends CommandRunner {
  async run(): Promise<void> {
    // Loaded here, not at the top: the core module graph is what would make `--help` slow.
    const { runWorker } = await import('../../../app/worker-main');
    await runWorker();
    // The worker runs until a signal closes it (runWorker's handler exits the process).
    await new Promise<never>(() => undefined);
  }
}
