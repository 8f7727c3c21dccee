import { Module } from '@nestjs/common';
import { LlmCallsRepository } from './llm-calls.repository';
import { LlmService } from './llm.service';

/**
 * Model calls: `LlmService.generate` over the offline, OpenAI-compatible and Anthropic providers
 * (plain classes chosen by the `provider:` prefix), and the `llm_calls` usage records.
 * Needs the global ConfigModule, DatabaseModule and LoggerModule.
 */
@Module({
  providers: [LlmCallsRepository, LlmService],
  exports: [LlmService, LlmCallsRepository],
})
export class LlmModule {}
