import { Global, Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller';
import { MetricsRepository } from './metrics.repository';
import { MetricsService } from './metrics.service';

/**
 * `GET /metrics` and the metrics registry of the API process (import it in the API root only: it
 * brings the controller). Global, so any provider can count into MetricsService.
 */
@Global()
@Module({
  controllers: [MetricsController],
  providers: [MetricsRepository, MetricsService],
  exports: [MetricsService],
})
export class MetricsModule {}
