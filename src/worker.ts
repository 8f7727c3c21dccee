import 'reflect-metadata';
import { runWorker } from './app/worker-main';

/** Worker entry point (`npm run worker`); `broski worker` runs the same function. */
void runWorker();
