import type Database from 'better-sqlite3';
import { is, Param, Placeholder } from 'drizzle-orm';
import type { Db } from './database.tokens';

/** A query as Drizzle builds it: its SQL text and its parameters. */
export interface BuiltQuery {
  toSQL(): { sql: string; params: unknown[] };
}

/** The values of a statement's named placeholders (`sql.placeholder(name)`). */
export type PlaceholderValues = Readonly<Record<string, unknown>>;

type Slot = (values: PlaceholderValues) => unknown;

function valueOf(values: PlaceholderValues, name: string): unknown {
  if (!(name in values)) throw new Error(`No value for placeholder "${name}" was provided`);
  return values[name];
}

/** How one of the query's parameters gets its value, as Drizzle's `fillPlaceholders` does it. */
function slotOf(param: unknown): Slot {
  if (is(param, Placeholder)) {
    const { name } = param;
    return (values) => valueOf(values, name);
  }
  if (is(param, Param) && is(param.value, Placeholder)) {
    // A placeholder in a column's place (insert values): the column encodes it (JSON columns).
    const { encoder } = param;
    const { name } = param.value;
    return (values) => encoder.mapToDriverValue(valueOf(values, name));
  }
  return () => param;
}

/**
 * A statement that Drizzle builds, so its SQL follows the schema, prepared on the better-sqlite3
 * connection and run by it directly. Drizzle's own prepared query works out again on every call
 * what each parameter is (a placeholder, a placeholder its column encodes, a value); here that is
 * worked out once. An event insert took 2.1 µs this way against 3.3 µs through Drizzle's prepared
 * query; a worker ran about 68 statements per workflow (bench/RESULTS.md, fourteenth round).
 */
export class DirectStatement {
  private readonly statement: Database.Statement<unknown[], unknown[]>;
  private readonly slots: readonly Slot[];

  constructor(db: Db, query: BuiltQuery) {
    const { sql, params } = query.toSQL();
    this.statement = db.$client.prepare<unknown[], unknown[]>(sql);
    // A read returns each row as the array of its column values (for RowMapper).
    if (this.statement.reader) this.statement.raw(true);
    this.slots = params.map(slotOf);
  }

  run(values: PlaceholderValues = {}): Database.RunResult {
    return this.statement.run(...this.bind(values));
  }

  /** The rows, each as the array of its column values in the order of the select. */
  rows(values: PlaceholderValues = {}): unknown[][] {
    return this.statement.all(...this.bind(values));
  }

  private bind(values: PlaceholderValues): unknown[] {
    const { slots } = this;
    const bound = new Array<unknown>(slots.length);
    for (let i = 0; i < slots.length; i += 1) {
      const slot = slots[i];
      if (slot !== undefined) bound[i] = slot(values);
    }
    return bound;
  }
}
