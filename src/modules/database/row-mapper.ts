import { getTableColumns, type Column, type InferSelectModel, type Table } from 'drizzle-orm';

/**
 * Turns the arrays of a prepared `db.select().from(table)` read in Drizzle's array mode
 * (`.values()`) into the table's row objects, with the list of column decoders worked out once.
 * Drizzle's own mapping looks up every column's decoder and path again for each column of each
 * row; on the detail of a workflow that was a tenth of the request's CPU time (`npm run bench`).
 *
 * `select()` without fields selects the columns in `getTableColumns` order, the order used
 * here; test/integration/row-mapper.spec.ts checks the rows come out equal to Drizzle's own.
 */
export class RowMapper<TTable extends Table> {
  private readonly columns: ReadonlyArray<readonly [string, Column]>;

  constructor(table: TTable) {
    this.columns = Object.entries(getTableColumns(table));
  }

  /** The first row of an array-mode result, or undefined when there is none. */
  one(values: readonly unknown[][]): InferSelectModel<TTable> | undefined {
    const first = values[0];
    return first === undefined ? undefined : this.row(first);
  }

  many(values: readonly unknown[][]): Array<InferSelectModel<TTable>> {
    return values.map((value) => this.row(value));
  }

  private row(value: readonly unknown[]): InferSelectModel<TTable> {
    const row: Record<string, unknown> = {};
    const { columns } = this;
    for (let i = 0; i < columns.length; i += 1) {
      const entry = columns[i];
      if (entry === undefined) continue;
      const raw = value[i];
      row[entry[0]] = raw === null || raw === undefined ? null : entry[1].mapFromDriverValue(raw);
    }
    // The same claim Drizzle's own mapping makes: the row has the table's columns, each decoded
    // by the column itself (test/integration/row-mapper.spec.ts compares the two mappings).
    // type-coverage:ignore-next-line
    return row as InferSelectModel<TTable>;
  }
}
