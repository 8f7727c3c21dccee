import { Inject, Injectable } from '@nestjs/common';
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import { DRIZZLE, type Db } from '../database/database.tokens';
import { apiKeys, type ApiKeyRow } from './api-keys.table';

/** The only place that reads and writes the `api_keys` table. */
@Injectable()
export class ApiKeysRepository {
  private readonly byPrefix;
  private readonly activeCount;

  constructor(@Inject(DRIZZLE) private readonly db: Db) {
    this.byPrefix = db
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.prefix, sql.placeholder('prefix')), isNull(apiKeys.revokedAt)))
      .prepare();
    this.activeCount = db
      .select({ count: sql<number>`count(*)` })
      .from(apiKeys)
      .where(isNull(apiKeys.revokedAt))
      .prepare();
  }

  insert(row: typeof apiKeys.$inferInsert): void {
    this.db.insert(apiKeys).values(row).run();
  }

  list(): ApiKeyRow[] {
    return this.db.select().from(apiKeys).orderBy(asc(apiKeys.id)).all();
  }

  findActiveByPrefix(prefix: string): ApiKeyRow[] {
    return this.byPrefix.all({ prefix });
  }

  countActive(): number {
    return this.activeCount.get()?.count ?? 0;
  }

  findById(id: string): ApiKeyRow | undefined {
    return this.db.select().from(apiKeys).where(eq(apiKeys.id, id)).get();
  }

  revoke(id: string, now: string): boolean {
    return (
      this.db
        .update(apiKeys)
        .set({ revokedAt: now })
        .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
        .run().changes === 1
    );
  }

  touch(id: string, now: string): void {
    this.db.update(apiKeys).set({ lastUsedAt: now }).where(eq(apiKeys.id, id)).run();
  }
}
