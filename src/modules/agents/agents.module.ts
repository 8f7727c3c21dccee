import { Module } from '@nestjs/common';
import { AgentsRepository } from './agents.repository';
import { AgentsService } from './agents.service';

/** Agent registry: table, repository and service (controllers are added by the API root). */
@Module({
  providers: [AgentsRepository, AgentsService],
  exports: [AgentsService],
})
export class AgentsModule {}
