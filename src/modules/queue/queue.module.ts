import { BullModule } from '@nestjs/bullmq';
import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config';
import { BullmqJobQueue } from './bullmq-job-queue';
import { InlineJobQueue } from './inline-job-queue';
import { JobQueue } from './job-queue';
import { QUEUE_NAMES } from './jobs';
import { QueueHealth } from './queue.health';
import { producerConnection } from './redis-connection';

/** Provides the queue port with the driver the configuration chose (inline or BullMQ). */
@Global()
@Module({})
export class QueueModule {
  static forRoot(config: AppConfig): DynamicModule {
    const redisUrl = config.queue.redisUrl;
    if (config.queue.driver === 'inline' || redisUrl === undefined) {
      return {
        module: QueueModule,
        providers: [InlineJobQueue, { provide: JobQueue, useExisting: InlineJobQueue }],
        exports: [JobQueue],
      };
    }
    return {
      module: QueueModule,
      imports: [
        BullModule.forRoot({
          connection: producerConnection(redisUrl),
          prefix: config.queue.prefix,
        }),
        BullModule.registerQueue({ name: QUEUE_NAMES.workflows }, { name: QUEUE_NAMES.tasks }),
      ],
      providers: [BullmqJobQueue, { provide: JobQueue, useExisting: BullmqJobQueue }, QueueHealth],
      exports: [JobQueue, BullmqJobQueue],
    };
  }
}
