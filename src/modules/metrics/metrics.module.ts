import { Global, Module, type DynamicModule } from '@nestjs/common';
import { JOB_OBSERVER } from './job-observer';
import { MetricsController } from './metrics.controller';
import { MetricsRepository } from './metrics.repository';
import { METRICS_SCOPE, MetricsService, type MetricsScope } from './metrics.service';

/**
 * The metrics registry of a process. `api`: every family and the `GET /metrics` controller.
 * `worker`: this process's own figures only (its jobs, unhandled errors, process defaults), which
 * the worker's small server exposes. Global, so any provider can count into MetricsService, and
 * the job processor finds it as its JOB_OBSERVER.
 */
@Global()
@Module({})
export class MetricsModule {
  static forRoot(scope: MetricsScope): DynamicModule {
    return {
      module: MetricsModule,
      controllers: scope === 'api' ? [MetricsController] : [],
      providers: [
        { provide: METRICS_SCOPE, useValue: scope },
        MetricsRepository,
        MetricsService,
        { provide: JOB_OBSERVER, useExisting: MetricsService },
      ],
      exports: [MetricsService, JOB_OBSERVER],
    };
  }
}
