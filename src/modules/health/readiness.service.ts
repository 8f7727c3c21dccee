import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import {
  HealthCheckService,
  HealthIndicatorService,
  type HealthCheckResult,
} from '@nestjs/terminus';
import { DatabaseHealthIndicator } from './database.health';
import { LifecycleState } from './lifecycle.state';
import { ReadinessChecks } from './readiness.checks';

/** A readiness answer: 200 with the checks, or 503 with the ones that are down. */
export interface ReadinessAnswer {
  status: 200 | 503;
  body: HealthCheckResult | string | object;
}

/** Whether this process can do work: not draining, the database answers, the queue's checks. */
@Injectable()
export class Readiness {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly database: DatabaseHealthIndicator,
    private readonly lifecycle: LifecycleState,
    private readonly extraChecks: ReadinessChecks,
  ) {}

  async check(): Promise<ReadinessAnswer> {
    try {
      const body = await this.health.check([
        () => {
          const session = this.indicator.check('lifecycle');
          return this.lifecycle.isDraining
            ? session.down({ message: 'shutting down' })
            : session.up();
        },
        () => this.database.check(),
        ...this.extraChecks.all(),
      ]);
      return { status: 200, body };
    } catch (error) {
      if (error instanceof ServiceUnavailableException) {
        return { status: 503, body: error.getResponse() };
      }
      throw error;
    }
  }
}
