import { Module } from '@nestjs/common';
import { OrchestratorModule } from './orchestrator.module';
import { OrchestratorProcessor } from './orchestrator.processor';

/** Imported only by roots that consume jobs. */
@Module({ imports: [OrchestratorModule], providers: [OrchestratorProcessor] })
export class OrchestratorProcessorModule {}
