import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config';
import { InlineJobQueue } from './inline-job-queue';
import { JobQueue } from './job-queue';

/**
 * Provides the queue port with the driver the configuration chose (inline or BullMQ). The BullMQ
 * driver's modules (bullmq, ioredis, @nestjs/bullmq) are loaded only when it is chosen: with Bull
 * Board they held about 12 MB of heap in a process that never used them (the inline API's RSS
 * after 1,000 workflows fell from 141 to 134 MB).
 */
@Global()
@Module({})
export class QueueModule {
  static forRoot(config: AppConfig): DynamicModule | Promise<DynamicModule> {
    const redisUrl = config.queue.redisUrl;
    if (config.queue.driver === 'inline' || redisUrl === undefined) {
      return {
        module: QueueModule,
        providers: [InlineJobQueue, { provide: JobQueue, useExisting: InlineJobQueue }],
        exports: [JobQueue],
      };
    }
    return import('./bullmq-queue.module').then(({ bullmqQueueParts }) => ({
      module: QueueModule,
      ...bullmqQueueParts(config.queue, redisUrl),
    }));
  }
}
