import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { InlineJobQueue } from './inline-job-queue';
import { JobQueue } from './job-queue';

/** Provides the queue port with the driver the configuration chose. */
@Module({
  providers: [
    InlineJobQueue,
    {
      provide: JobQueue,
      inject: [APP_CONFIG, InlineJobQueue],
      useFactory: (config: AppConfig, inline: InlineJobQueue): JobQueue => {
        if (config.queue.driver === 'inline') return inline;
        throw new Error('QUEUE_DRIVER=bullmq is not available in this build');
      },
    },
  ],
  exports: [JobQueue],
})
export class QueueModule {}
