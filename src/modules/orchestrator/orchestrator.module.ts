import { Module } from '@nestjs/common';
import { AgentsModule } from '../agents/agents.module';
import { LlmModule } from '../llm/llm.module';
import { TasksModule } from '../tasks/tasks.module';
import { WorkflowsModule } from '../workflows/workflows.module';
import { EventStreamService } from './event-stream.service';
import { OrchestratorService } from './orchestrator.service';
import { Reconciler } from './reconciler.service';
import { RunningCalls } from './running-calls';
import { WorkflowEngine } from './workflow-engine.service';
import { WorkflowSignals } from './workflow-signals';

/** Planning, running and finalizing workflows; the user actions on them. */
@Module({
  imports: [AgentsModule, LlmModule, TasksModule, WorkflowsModule],
  providers: [
    OrchestratorService,
    WorkflowEngine,
    Reconciler,
    RunningCalls,
    WorkflowSignals,
    EventStreamService,
  ],
  exports: [
    OrchestratorService,
    WorkflowEngine,
    Reconciler,
    WorkflowSignals,
    EventStreamService,
    WorkflowsModule,
    TasksModule,
  ],
})
export class OrchestratorModule {}
