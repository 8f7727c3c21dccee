import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { OrchestratorProcessorModule } from '../modules/orchestrator/orchestrator-processor.module';
import { CoreModule } from './core.module';

/**
 * Root of a worker process: the core plus the job processors, no API. With WORKER_METRICS_PORT,
 * also the metrics registry and a small server for /metrics and /health (loaded only then: a
 * worker without them never loads prom-client).
 */
@Module({})
export class WorkerModule {
  static async forRoot(config: AppConfig): Promise<DynamicModule> {
    const imports: DynamicModule[] = [CoreModule.forRoot(config, 'worker')];
    const providers: Provider[] = [];
    if (config.queue.workerMetricsPort > 0) {
      const { MetricsModule } = await import('../modules/metrics/metrics.module');
      const { WorkerHttpServer } = await import('../modules/metrics/worker-http.server');
      imports.push(MetricsModule.forRoot('worker'));
      providers.push(WorkerHttpServer);
    }
    return {
      module: WorkerModule,
      imports: [...imports, OrchestratorProcessorModule],
      providers,
    };
  }
}
