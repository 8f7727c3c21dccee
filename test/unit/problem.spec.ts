import {
  BadRequestException,
  ConflictException,
  InternalServerErrorException,
  NotFoundException,
} from '@nestjs/common';
import { createZodDto, ZodSerializationException } from 'nestjs-zod';
import { ValidationPipe } from '../../src/common/http/validation.pipe';
import { z, ZodError } from 'zod';
import { DomainError, ErrorCode } from '../../src/common/domain-error';
import { problemSchema, toProblem } from '../../src/common/http/problem';

const context = { requestId: 'req-123', instance: '/api/v1/agents' };

/** Every problem body must be a valid RFC 9457 document of our shape, with the request id. */
function expectProblemBody(body: unknown, status: number): void {
  const parsed = problemSchema.strict().parse(body);
  expect(parsed.status).toBe(status);
  expect(parsed.type).toMatch(/^urn:broski:problem:/);
  expect(parsed.type.endsWith(parsed.code)).toBe(true);
  expect(parsed.title.length).toBeGreaterThan(0);
  expect(parsed.detail.length).toBeGreaterThan(0);
  expect(parsed.requestId).toBe('req-123');
  expect(parsed.instance).toBe('/api/v1/agents');
}

describe('toProblem', () => {
  describe('domain errors', () => {
    it.each([
      [ErrorCode.VALIDATION, 400],
      [ErrorCode.UNAUTHORIZED, 401],
      [ErrorCode.NOT_FOUND, 404],
      [ErrorCode.CONFLICT, 409],
      [ErrorCode.INVALID_TRANSITION, 409],
      [ErrorCode.IDEMPOTENCY_MISMATCH, 422],
      [ErrorCode.RATE_LIMITED, 429],
      [ErrorCode.UNAVAILABLE, 503],
    ])('%s answers %i with its code and its own message', (code, status) => {
      const response = toProblem(new DomainError(code, `message for ${code}`), context);
      expect(response.status).toBe(status);
      expectProblemBody(response.body, status);
      expect(response.body.code).toBe(code);
      expect(response.body.detail).toBe(`message for ${code}`);
      expect(response.internal).toBe(false);
    });

    it('keeps field errors and extra headers (e.g. Retry-After)', () => {
      const error = new DomainError(
        ErrorCode.RATE_LIMITED,
        'slow down',
        [{ path: 'limit', message: 'too many' }],
        { 'retry-after': '7' },
      );
      const response = toProblem(error, context);
      expect(response.headers).toEqual({ 'retry-after': '7' });
      expect(response.body.errors).toEqual([{ path: 'limit', message: 'too many' }]);
    });

    it('uses the helpers: notFound names what is missing', () => {
      const response = toProblem(DomainError.notFound('Agent', 'ghost'), context);
      expect(response.status).toBe(404);
      expect(response.body.detail).toContain("'ghost'");
      expect(response.body.errors).toBeUndefined();
    });

    it('an internal domain error is internal', () => {
      const response = toProblem(new DomainError(ErrorCode.INTERNAL, 'db exploded'), context);
      expect(response.status).toBe(500);
      expect(response.internal).toBe(true);
    });
  });

  describe('Zod failures', () => {
    const schema = z.strictObject({ name: z.string(), age: z.number().int().min(0) });
    const failure = schema.safeParse({ name: 5, age: -1, extra: true });
    if (failure.success) throw new Error('the fixture must fail');

    it('a ZodError answers 400 with one entry per bad field', () => {
      const response = toProblem(failure.error, context);
      expect(response.status).toBe(400);
      expectProblemBody(response.body, 400);
      expect(response.body.code).toBe(ErrorCode.VALIDATION);
      const paths = (response.body.errors ?? []).map((e) => e.path);
      expect(paths).toEqual(expect.arrayContaining(['name', 'age', 'extra']));
      for (const field of ['name', 'age', 'extra']) expect(response.body.detail).toContain(field);
      expect(response.internal).toBe(false);
    });

    it("the API's validation pipe hands over the ZodError, which answers the same", () => {
      class PersonDto extends createZodDto(schema) {}
      let rejected: unknown;
      try {
        new ValidationPipe().transform({ name: 1 }, { type: 'body', metatype: PersonDto });
      } catch (error) {
        rejected = error;
      }
      expect(rejected).toBeInstanceOf(ZodError);
      const response = toProblem(rejected, context);
      expect(response.status).toBe(400);
      expect((response.body.errors ?? []).map((e) => e.path)).toContain('name');
    });

    it('names nested paths with dots', () => {
      const nested = z.object({ a: z.object({ b: z.array(z.string()) }) }).safeParse({
        a: { b: ['ok', 1] },
      });
      if (nested.success) throw new Error('the fixture must fail');
      expect(toProblem(nested.error, context).body.errors).toEqual([
        { path: 'a.b.1', message: expect.any(String) as string },
      ]);
    });

    it('a response that fails its own schema is a hidden 500, not a 400', () => {
      const response = toProblem(new ZodSerializationException(failure.error), context);
      expect(response.status).toBe(500);
      expect(response.internal).toBe(true);
      expect(response.body.errors).toBeUndefined();
    });
  });

  describe('Nest HTTP exceptions', () => {
    it('NotFoundException answers 404 not_found', () => {
      const response = toProblem(new NotFoundException('Cannot GET /nowhere'), context);
      expect(response.status).toBe(404);
      expectProblemBody(response.body, 404);
      expect(response.body.code).toBe(ErrorCode.NOT_FOUND);
      expect(response.body.detail).toBe('Cannot GET /nowhere');
    });

    it('other 4xx keep their status', () => {
      expect(toProblem(new BadRequestException('nope'), context).body.code).toBe(
        ErrorCode.VALIDATION,
      );
      expect(toProblem(new ConflictException('taken'), context).status).toBe(409);
    });

    it('a 5xx exception hides its message', () => {
      const response = toProblem(new InternalServerErrorException('secret stack'), context);
      expect(response.status).toBe(500);
      expect(response.body.detail).not.toContain('secret');
      expect(response.internal).toBe(true);
    });
  });

  describe("Fastify's own errors", () => {
    it.each([
      [413, 'FST_ERR_CTP_BODY_TOO_LARGE', 'Request body is too large', 'payload_too_large'],
      [415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE', 'Unsupported Media Type', 'unsupported_media_type'],
      [400, 'FST_ERR_CTP_INVALID_JSON_BODY', 'Body is not valid JSON', ErrorCode.VALIDATION],
    ])('statusCode %i answers %i problem+json', (statusCode, code, message, problemCode) => {
      const error = Object.assign(new Error(message), { statusCode, code });
      const response = toProblem(error, context);
      expect(response.status).toBe(statusCode);
      expectProblemBody(response.body, statusCode);
      expect(response.body.code).toBe(problemCode);
      expect(response.body.detail).toBe(message);
      expect(response.internal).toBe(false);
    });

    it('a plain object with a statusCode is understood too', () => {
      const response = toProblem({ statusCode: 413, message: 'too big' }, context);
      expect(response.status).toBe(413);
      expect(response.body.title).toBe('Content too large');
    });
  });

  describe('unknown errors', () => {
    it.each([
      ['an Error', new Error('SQLITE_CORRUPT: /srv/secret/path.db')],
      ['a string', 'boom at /srv/secret'],
      ['undefined', undefined],
      ['a 5xx-like object', { statusCode: 502, message: 'upstream secret' }],
    ])('%s answers 500 with the request id and no internals', (_label, thrown) => {
      const response = toProblem(thrown, context);
      expect([500, 502]).toContain(response.status);
      expectProblemBody(response.body, response.status);
      expect(response.body.code).toBe(ErrorCode.INTERNAL);
      expect(response.body.detail).not.toMatch(/secret|SQLITE/);
      expect(response.body.detail).toContain('req-123');
      expect(response.internal).toBe(true);
    });

    it('says so when there is no request id', () => {
      const response = toProblem(new Error('x'), {});
      expect(response.status).toBe(500);
      expect(response.body.requestId).toBeUndefined();
      expect(response.body.detail).toContain('(none)');
    });
  });
});
