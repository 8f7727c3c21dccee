import { createZodValidationPipe } from 'nestjs-zod';
import { ZodError } from 'zod';
import { DomainError } from '../domain-error';

/**
 * Request validation against the DTOs' Zod schemas; the ZodError itself goes to the problem
 * filter (400 problem+json with one entry per field), so the error mapping needs no nestjs-zod.
 */
export const ValidationPipe = createZodValidationPipe({
  createValidationException: (error) =>
    error instanceof ZodError ? error : DomainError.validation('The request is not valid'),
});
