import { Inject, Injectable } from '@nestjs/common';
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import { DRIZZLE, type Db } from '../database/database.tokens';
import { agents, type AgentRow, type AgentStatus, type NewAgentRow } from './agents.table';

/** The only place that reads and writes the `agents` table. */
@Injectable()
export class AgentsRepository {
  private readonly byType;
  private readonly activeTypes;

  constructor(@Inject(DRIZZLE) private readonly db: Db) {
    this.byType = db
      .select()
      .from(agents)
      .where(eq(agents.type, sql.placeholder('type')))
      .prepare();
    this.activeTypes = db
      .select()
      .from(agents)
      .where(eq(agents.status, 'active'))
      .orderBy(asc(agents.id))
      .prepare();
  }

  findByType(type: string): AgentRow | undefined {
    return this.byType.get({ type });
  }

  listActive(): AgentRow[] {
    return this.activeTypes.all();
  }

  list(options: { status?: AgentStatus; afterId?: string; limit: number }): AgentRow[] {
    const conditions = [
      options.status === undefined ? undefined : eq(agents.status, options.status),
      options.afterId === undefined ? undefined : gt(agents.id, options.afterId),
    ];
    return this.db
      .select()
      .from(agents)
      .where(and(...conditions))
      .orderBy(asc(agents.id))
      .limit(options.limit)
      .all();
  }

  /** Inserts the row; returns false when an agent of that type exists already. */
  insert(row: NewAgentRow): boolean {
    const result = this.db
      .insert(agents)
      .values(row)
      .onConflictDoNothing({ target: agents.type })
      .run();
    return result.changes === 1;
  }

  update(type: string, changes: Partial<NewAgentRow>, updatedAt: string): AgentRow | undefined {
    const rows = this.db
      .update(agents)
      .set({ ...changes, updatedAt, version: sql`${agents.version} + 1` })
      .where(eq(agents.type, type))
      .returning()
      .all();
    return rows[0];
  }
}
