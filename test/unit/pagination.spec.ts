import { DomainError, ErrorCode } from '../../src/common/domain-error';
import { decodeCursor, encodeCursor, toPage } from '../../src/common/pagination';

describe('pagination cursors', () => {
  it('round-trips any key, including non-ASCII text', () => {
    for (const key of ['0192f3a4-7b1c-7000-8000-000000000001', 'a', '2025-01-01|x', 'ключ ✓ 🚀']) {
      const cursor = encodeCursor(key);
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(cursor)).toBe(key);
    }
  });

  it('treats a missing or empty cursor as the first page', () => {
    expect(decodeCursor(undefined)).toBeUndefined();
    expect(decodeCursor('')).toBeUndefined();
  });

  it.each(['!!!', 'not a cursor', 'a', 'YQ=', 'YQ==', '%%%', '=='])(
    'rejects %p as a validation error on the cursor field',
    (cursor) => {
      expect.assertions(4);
      try {
        decodeCursor(cursor);
      } catch (error) {
        expect(error).toBeInstanceOf(DomainError);
        const domain = error as DomainError;
        expect(domain.code).toBe(ErrorCode.VALIDATION);
        expect(domain.status).toBe(400);
        expect(domain.errors.map((e) => e.path)).toEqual(['cursor']);
      }
    },
  );

  it('rejects a well-formed cursor whose key the caller does not accept', () => {
    const isDigits = (key: string) => /^\d+$/.test(key);
    expect(decodeCursor(encodeCursor('123'), isDigits)).toBe('123');
    expect(() => decodeCursor(encodeCursor('abc'), isDigits)).toThrow(DomainError);
    expect(decodeCursor(undefined, isDigits)).toBeUndefined();
  });
});

describe('toPage', () => {
  interface Row {
    id: string;
    n: number;
  }
  const rows: Row[] = [1, 2, 3, 4, 5].map((n) => ({ id: `id-${n}`, n }));
  const map = (row: Row) => row.n * 10;
  const keyOf = (row: Row) => row.id;

  it('returns a full page and a cursor on the last item shown when more rows exist', () => {
    // The repository fetches limit + 1 rows: 3 + 1 here.
    const page = toPage(rows.slice(0, 4), 3, map, keyOf);
    expect(page.items).toEqual([10, 20, 30]);
    expect(page.nextCursor).not.toBeNull();
    expect(decodeCursor(page.nextCursor ?? undefined)).toBe('id-3');
  });

  it('has no next cursor on the last page', () => {
    expect(toPage(rows.slice(0, 3), 3, map, keyOf)).toEqual({
      items: [10, 20, 30],
      nextCursor: null,
    });
    expect(toPage(rows.slice(0, 2), 3, map, keyOf)).toEqual({ items: [10, 20], nextCursor: null });
  });

  it('handles an empty result', () => {
    expect(toPage([], 10, map, keyOf)).toEqual({ items: [], nextCursor: null });
  });

  it('walks every row exactly once across pages', () => {
    const limit = 2;
    const seen: number[] = [];
    let after: string | undefined;
    for (let guard = 0; guard < 10; guard++) {
      const start = after === undefined ? 0 : rows.findIndex((r) => r.id === after) + 1;
      const page = toPage(rows.slice(start, start + limit + 1), limit, map, keyOf);
      seen.push(...page.items);
      if (page.nextCursor === null) break;
      after = decodeCursor(page.nextCursor);
    }
    expect(seen).toEqual([10, 20, 30, 40, 50]);
  });
});
