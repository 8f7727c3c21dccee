import { getTableColumns, type Column, type InferSelectModel, type Table } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';

/** The columns of a partial select (`db.select({ id: tasks.id, ... })`), by the row's keys. */
export type Selection = Record<string, SQLiteColumn>;

/** What a column reads as: its data type, or null where the column may be null. */
type ColumnValue<C extends Column> = C['_']['notNull'] extends true
  ? C['_']['data']
  : C['_']['data'] | null;

/** A row of a partial select, typed from its columns as Drizzle types it. */
export type SelectionRow<TSelection extends Selection> = {
  [K in keyof TSelection]: ColumnValue<TSelection[K]>;
};

/**
 * Turns the arrays of a read in array mode into row objects, with the list of column decoders
 * worked out once. Drizzle's own mapping looks up every column's decoder and path again for each
 * column of each row; on the detail of a workflow that was a tenth of the request's CPU time
 * (`npm run bench`).
 *
 * The columns are taken in the order of the select: `getTableColumns` order for a whole row
 * (`select()` without fields selects them so), the selection's own order for a partial select.
 * test/integration/row-mapper.spec.ts checks the rows come out equal to Drizzle's own.
 */
export class RowMapper<TRow> {
  private readonly columns: ReadonlyArray<readonly [string, Column]>;

  private constructor(columns: ReadonlyArray<readonly [string, Column]>) {
    this.columns = columns;
  }

  /** Whole rows of `table`. */
  static of<TTable extends Table>(table: TTable): RowMapper<InferSelectModel<TTable>> {
    return new RowMapper(Object.entries(getTableColumns(table)));
  }

  /** Rows of a partial select of these columns (the same object given to `db.select`). */
  static ofSelection<TSelection extends Selection>(
    selection: TSelection,
  ): RowMapper<SelectionRow<TSelection>> {
    return new RowMapper(Object.entries<Column>(selection));
  }

  /** The first row of an array-mode result, or undefined when there is none. */
  one(values: readonly unknown[][]): TRow | undefined {
    const first = values[0];
    return first === undefined ? undefined : this.row(first);
  }

  many(values: readonly unknown[][]): TRow[] {
    return values.map((value) => this.row(value));
  }

  private row(value: readonly unknown[]): TRow {
    const row: Record<string, unknown> = {};
    const { columns } = this;
    for (let i = 0; i < columns.length; i += 1) {
      const entry = columns[i];
      if (entry === undefined) continue;
      const raw = value[i];
      row[entry[0]] = raw === null || raw === undefined ? null : entry[1].mapFromDriverValue(raw);
    }
    // The same claim Drizzle's own mapping makes: the row has the selected columns, each decoded
    // by the column itself (test/integration/row-mapper.spec.ts compares the two mappings).
    // type-coverage:ignore-next-line
    return row as TRow;
  }
}
