import { Module } from '@nestjs/common';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKeysService } from './api-keys.service';

/** API keys (made and revoked with `broski keys`); the API root adds the access hook. */
@Module({ providers: [ApiKeysRepository, ApiKeysService], exports: [ApiKeysService] })
export class AccessModule {}
