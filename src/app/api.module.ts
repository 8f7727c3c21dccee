import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import type { AppConfig } from '../config/app-config';
import { ProblemFilter } from '../common/http/problem.filter';
import { ValidationPipe } from '../common/http/validation.pipe';
import { AgentsController } from '../modules/agents/agents.controller';
import { ShutdownBackup } from '../modules/database/shutdown-backup';
import { MetricsModule } from '../modules/metrics/metrics.module';
import { HealthController } from '../modules/health/health.controller';
import { OrchestratorProcessorModule } from '../modules/orchestrator/orchestrator-processor.module';
import { TasksController } from '../modules/tasks/tasks.controller';
import { WorkflowsController } from '../modules/workflows/workflows.controller';
import { CoreModule } from './core.module';

/** Root of the API process: the core plus controllers and HTTP concerns. */
@Module({})
export class ApiModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ApiModule,
      imports: [
        CoreModule.forRoot(config, 'api'),
        MetricsModule.forRoot('api'),
        ...(config.queue.runWorkers ? [OrchestratorProcessorModule] : []),
      ],
      controllers: [HealthController, AgentsController, WorkflowsController, TasksController],
      // Responses are checked against their contract schema by @ZodResponse
      // (common/http/zod-response.decorator.ts), not by a global interceptor.
      providers: [
        { provide: APP_PIPE, useClass: ValidationPipe },
        { provide: APP_FILTER, useClass: ProblemFilter },
        ShutdownBackup,
      ],
    };
  }
}
