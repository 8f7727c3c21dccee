import { Module } from '@nestjs/common';
import { LlmModule } from '../llm/llm.module';
import { TasksModule } from '../tasks/tasks.module';
import { WorkflowsRepository } from './workflows.repository';
import { WorkflowsService } from './workflows.service';

@Module({
  imports: [LlmModule, TasksModule],
  providers: [WorkflowsRepository, WorkflowsService],
  exports: [WorkflowsRepository, WorkflowsService],
})
export class WorkflowsModule {}
