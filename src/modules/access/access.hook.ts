import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isIP } from 'node:net';
import { DomainError, ErrorCode } from '../../common/domain-error';
import type { ApiKeysService } from './api-keys.service';

/** Whether the server only listens on this machine. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}

const PROTECTED = ['/api/', '/admin/'];

export function isProtectedPath(url: string): boolean {
  return PROTECTED.some((prefix) => url.startsWith(prefix));
}

/**
 * The path the router matched: its route template when there is one (the router decodes
 * percent-encoding, so `/%61pi/v1/...` reaches `/api/v1/...` handlers and the raw URL must not
 * decide), else the decoded path.
 */
export function matchedPath(request: FastifyRequest): string {
  const template = request.routeOptions.url;
  if (template !== undefined) return template;
  const raw = request.url.split('?')[0] ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function unauthorized(message: string): DomainError {
  return new DomainError(ErrorCode.UNAUTHORIZED, message, [], {
    'www-authenticate': 'Bearer realm="broski"',
  });
}

/**
 * The access rule: once any key exists, every /api and /admin request needs
 * `Authorization: Bearer <key>`; with no key, they are served only on a loopback address.
 * Health, metrics and docs stay open.
 *
 * A callback hook, not an `async` one: the check is synchronous, and an async hook costs a
 * promise per request.
 */
export function registerAccessControl(
  fastify: FastifyInstance,
  keys: ApiKeysService,
  host: string,
): void {
  const loopback = isLoopbackHost(host);
  fastify.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done) => {
    const refused = refusal(request, keys, loopback);
    if (refused === undefined) done();
    else done(refused);
  });
}

/** Why the request may not pass, or undefined when it may. */
function refusal(
  request: FastifyRequest,
  keys: ApiKeysService,
  loopback: boolean,
): DomainError | undefined {
  if (!isProtectedPath(matchedPath(request))) return undefined;
  if (!keys.anyActive()) {
    return loopback
      ? undefined
      : unauthorized(
          'No API key exists and the server is not on a loopback address: create one with `broski keys create`',
        );
  }
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match === null || match[1] === undefined) {
    return unauthorized('This API needs an API key: send Authorization: Bearer <key>');
  }
  if (keys.verify(match[1]) === undefined) {
    return unauthorized('The API key is not valid or was revoked');
  }
  return undefined;
}
