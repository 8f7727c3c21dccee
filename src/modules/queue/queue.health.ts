import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { Redis } from 'ioredis';
import { withDeadline } from '../../common/deadline';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { ReadinessChecks } from '../health/readiness.checks';
import { producerConnection } from './redis-connection';

const PING_TIMEOUT_MS = 1000;

/** Readiness includes Redis when the BullMQ driver is active: 503 while it is unreachable. */
@Injectable()
export class QueueHealth implements OnModuleInit, OnModuleDestroy {
  private readonly client: Redis;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly indicator: HealthIndicatorService,
    private readonly checks: ReadinessChecks,
  ) {
    this.client = new Redis({
      ...producerConnection(config.queue.redisUrl ?? ''),
      lazyConnect: true,
    });
    // Connection errors surface as a failed readiness check; they must not crash the process.
    this.client.on('error', () => undefined);
  }

  onModuleInit(): void {
    this.checks.register(() => this.check());
    this.client.connect().catch(() => undefined);
  }

  onModuleDestroy(): void {
    this.client.disconnect();
  }

  async check() {
    const session = this.indicator.check('redis');
    try {
      await withDeadline(
        this.client.ping(),
        PING_TIMEOUT_MS,
        () => new Error('no answer within 1 s'),
      );
      return session.up();
    } catch (error) {
      return session.down({ message: error instanceof Error ? error.message : 'unreachable' });
    }
  }
}
