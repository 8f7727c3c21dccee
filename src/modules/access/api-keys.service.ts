import { Injectable } from '@nestjs/common';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DomainError } from '../../common/domain-error';
import { newId, nowIso } from '../../common/ids';
import { ApiKeysRepository } from './api-keys.repository';
import type { ApiKeyRow } from './api-keys.table';

const KEY_PREFIX = 'bsk_';
const PREFIX_LENGTH = KEY_PREFIX.length + 8;
/** How long "is there any key?" is cached: a new or revoked key takes effect within this. */
const ACTIVE_CACHE_MS = 1000;
/** last_used_at is written at most this often per key (not on every request). */
const TOUCH_EVERY_MS = 60_000;

export interface ApiKeyInfo {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

function hashKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

function toInfo(row: ApiKeyRow): ApiKeyInfo {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
    revokedAt: row.revokedAt,
  };
}

/** API keys: made once and shown once, stored as a hash, compared in constant time. */
@Injectable()
export class ApiKeysService {
  private activeCache: { value: boolean; at: number } | undefined;
  private readonly touchedAt = new Map<string, number>();

  constructor(private readonly repository: ApiKeysRepository) {}

  create(name: string): { key: string; info: ApiKeyInfo } {
    const trimmed = name.trim();
    if (trimmed === '' || trimmed.length > 100) {
      throw DomainError.validation('The key needs a name of 1–100 characters', [
        { path: 'name', message: 'must be 1–100 characters' },
      ]);
    }
    const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    const id = newId();
    this.repository.insert({
      id,
      name: trimmed,
      prefix: key.slice(0, PREFIX_LENGTH),
      hash: hashKey(key).toString('hex'),
      createdAt: nowIso(),
    });
    this.activeCache = undefined;
    const row = this.repository.findById(id);
    if (row === undefined) throw new Error('the new key was not stored');
    return { key, info: toInfo(row) };
  }

  list(): ApiKeyInfo[] {
    return this.repository.list().map(toInfo);
  }

  revoke(id: string): ApiKeyInfo {
    const row = this.repository.findById(id);
    if (row === undefined) throw DomainError.notFound('API key', id);
    if (row.revokedAt === null) this.repository.revoke(id, nowIso());
    this.activeCache = undefined;
    return toInfo(this.repository.findById(id) ?? row);
  }

  /** Whether any unrevoked key exists (cached for a second, so other processes' changes show up). */
  anyActive(now = Date.now()): boolean {
    if (this.activeCache !== undefined && now - this.activeCache.at < ACTIVE_CACHE_MS) {
      return this.activeCache.value;
    }
    const value = this.repository.countActive() > 0;
    this.activeCache = { value, at: now };
    return value;
  }

  /** The key's record when the presented key is valid and not revoked. */
  verify(presented: string): ApiKeyInfo | undefined {
    if (!presented.startsWith(KEY_PREFIX) || presented.length < PREFIX_LENGTH + 8) return undefined;
    const digest = hashKey(presented);
    for (const row of this.repository.findActiveByPrefix(presented.slice(0, PREFIX_LENGTH))) {
      const stored = Buffer.from(row.hash, 'hex');
      if (stored.length === digest.length && timingSafeEqual(stored, digest)) {
        this.touch(row.id);
        return toInfo(row);
      }
    }
    return undefined;
  }

  private touch(id: string): void {
    const now = Date.now();
    const last = this.touchedAt.get(id);
    if (last !== undefined && now - last < TOUCH_EVERY_MS) return;
    this.touchedAt.set(id, now);
    this.repository.touch(id, nowIso());
  }
}
