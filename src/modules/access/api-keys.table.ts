import { index, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** API keys: only a SHA-256 hash of the key is stored; the key itself is shown once. */
export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    /** The first characters of the key, to recognise it in lists and logs. */
    prefix: text('prefix').notNull(),
    hash: text('hash').notNull().unique(),
    createdAt: text('created_at').notNull(),
    lastUsedAt: text('last_used_at'),
    revokedAt: text('revoked_at'),
  },
  (t) => [index('api_keys_prefix_idx').on(t.prefix)],
);

export type ApiKeyRow = typeof apiKeys.$inferSelect;
