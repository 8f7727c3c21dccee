import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { MetricsModule } from '../modules/metrics/metrics.module';
import { WorkerHttpServer } from '../modules/metrics/worker-http.server';
import { OrchestratorProcessorModule } from '../modules/orchestrator/orchestrator-processor.module';
import { CoreModule } from './core.module';

/**
 * Root of a worker process: the core plus the job processors, no API. With WORKER_METRICS_PORT,
 * also the metrics registry and a small server for /metrics and /health.
 */
@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    const observed = config.queue.workerMetricsPort > 0;
    return {
      module: WorkerModule,
      imports: [
        CoreModule.forRoot(config, 'worker'),
        ...(observed ? [MetricsModule] : []),
        OrchestratorProcessorModule,
      ],
      providers: observed ? [WorkerHttpServer] : [],
    };
  }
}
