import * as path from 'node:path';
import { readFileSync } from 'node:fs';

/** The package root, both from `src/common` (tests) and from `dist/common` (built). */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
export const MIGRATIONS_DIR = path.join(PROJECT_ROOT, 'drizzle');

/** The version in package.json. */
export function packageVersion(): string {
  const raw: unknown = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8'));
  return typeof raw === 'object' &&
    raw !== null &&
    'version' in raw &&
    typeof raw.version === 'string'
    ? raw.version
    : '0.0.0';
}
