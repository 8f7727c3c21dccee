import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { OrchestratorProcessorModule } from '../modules/orchestrator/orchestrator-processor.module';
import { CoreModule } from './core.module';

/** Root of a worker process: the core plus the job processors, no HTTP. */
@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [CoreModule.forRoot(config, 'worker'), OrchestratorProcessorModule],
    };
  }
}
