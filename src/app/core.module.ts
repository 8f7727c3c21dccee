import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { ConfigModule } from '../config/config.module';
import { LoggingModule, type ProcessRole } from '../common/logging/logging.module';
import { AccessModule } from '../modules/access/access.module';
import { AgentsModule } from '../modules/agents/agents.module';
import { DatabaseModule } from '../modules/database/database.module';
import { HealthModule } from '../modules/health/health.module';
import { OrchestratorModule } from '../modules/orchestrator/orchestrator.module';
import { QueueModule } from '../modules/queue/queue.module';

/**
 * The shared core of every process (API, worker, CLI): configuration, logging, the database and
 * the feature modules' services. Roots add only their own concerns on top.
 */
@Module({})
export class CoreModule {
  static forRoot(config: AppConfig, role: ProcessRole): DynamicModule {
    return {
      module: CoreModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule.forRoot(role),
        DatabaseModule,
        HealthModule,
        QueueModule.forRoot(config),
        AgentsModule,
        OrchestratorModule,
        AccessModule,
      ],
      exports: [
        ConfigModule,
        LoggingModule,
        DatabaseModule,
        HealthModule,
        QueueModule,
        AgentsModule,
        OrchestratorModule,
        AccessModule,
      ],
    };
  }
}
