import { v7 as uuidv7, validate, version } from 'uuid';

/** Time-ordered identifiers (UUIDv7) for every stored row. */
export function newId(): string {
  return uuidv7();
}

export function isUuid(value: string): boolean {
  return validate(value) && version(value) >= 1;
}

export function nowIso(): string {
  return new Date().toISOString();
}
