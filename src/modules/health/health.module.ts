import { Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DatabaseHealthIndicator } from './database.health';
import { LifecycleState } from './lifecycle.state';
import { ReadinessChecks } from './readiness.checks';
import { Readiness } from './readiness.service';

/** Readiness state shared by every process; the API root adds the HTTP controller. */
@Global()
@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  providers: [DatabaseHealthIndicator, LifecycleState, ReadinessChecks, Readiness],
  exports: [TerminusModule, DatabaseHealthIndicator, LifecycleState, ReadinessChecks, Readiness],
})
export class HealthModule {}
