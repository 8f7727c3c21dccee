import 'reflect-metadata';
import { Get, HttpCode } from '@nestjs/common';
import { createZodDto, ZodSerializationException } from 'nestjs-zod';
import { z } from 'zod';
import { ZodResponse } from '../../src/common/http/zod-response.decorator';

class ThingDto extends createZodDto(z.object({ id: z.string(), count: z.number() })) {}

/** A controller-like class; `leak` smuggles an extra key past the type checker. */
class Things {
  leak: Record<string, unknown> = {};

  @Get(':id')
  @ZodResponse({ status: 200, type: ThingDto })
  @HttpCode(200)
  one(id: string) {
    return { id, count: 1, ...this.leak };
  }

  @ZodResponse({ type: ThingDto })
  async later(id: string) {
    await Promise.resolve();
    return { id, count: this.leak.count as number };
  }
}

describe('@ZodResponse', () => {
  it('parses the result with the contract schema: unknown keys are stripped', () => {
    const things = new Things();
    things.leak = { secret: 'x' };
    expect(things.one('a')).toEqual({ id: 'a', count: 1 });
  });

  it('parses what an async handler resolves to, and fails loudly on a mismatch', async () => {
    const things = new Things();
    things.leak = { count: 2 };
    await expect(things.later('b')).resolves.toEqual({ id: 'b', count: 2 });
    things.leak = { count: 'two' };
    await expect(things.later('b')).rejects.toBeInstanceOf(ZodSerializationException);
  });

  it('keeps the metadata of the decorators on either side and documents the response', () => {
    const handler = Things.prototype.one;
    expect(handler.name).toBe('one');
    expect(Reflect.getMetadata('path', handler)).toBe(':id');
    expect(Reflect.getMetadata('__httpCode__', handler)).toBe(200);
    const responses: Record<string, unknown> = Reflect.getMetadata('swagger/apiResponse', handler);
    expect(Object.keys(responses)).toContain('200');
  });
});
