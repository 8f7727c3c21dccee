import 'reflect-metadata';
import { runServe } from './app/serve';

/** API entry point (`npm start`); `broski serve` runs the same function. */
void runServe();
