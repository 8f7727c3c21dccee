import { Command, CommandRunner } from 'nest-commander';
import { runServe } from '../../../app/serve';

/** `broski serve`: the API server (and, with RUN_WORKERS=true, the queue processors). */
@Command({
  name: 'serve',
  description:
    'Start the HTTP API on HOST:PORT (also runs the queue processors unless RUN_WORKERS=false)',
})
export class ServeCommand extends CommandRunner {
  async run(): Promise<void> {
    await runServe();
  }
}
