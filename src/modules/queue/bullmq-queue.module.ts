import { BullModule } from '@nestjs/bullmq';
import type { DynamicModule } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config';
import { BullmqJobQueue } from './bullmq-job-queue';
import { JobQueue } from './job-queue';
import { QUEUE_NAMES } from './jobs';
import { QueueHealth } from './queue.health';
import { producerConnection } from './redis-connection';

/** The BullMQ driver's part of `QueueModule` (loaded only when the driver is BullMQ). */
export function bullmqQueueParts(
  config: AppConfig['queue'],
  redisUrl: string,
): Omit<DynamicModule, 'module'> {
  return {
    imports: [
      BullModule.forRoot({ connection: producerConnection(redisUrl), prefix: config.prefix }),
      BullModule.registerQueue({ name: QUEUE_NAMES.workflows }, { name: QUEUE_NAMES.tasks }),
    ],
    providers: [BullmqJobQueue, { provide: JobQueue, useExisting: BullmqJobQueue }, QueueHealth],
    exports: [JobQueue, BullmqJobQueue],
  };
}
