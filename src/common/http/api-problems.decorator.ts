import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { ProblemDto } from './problem.dto';

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (problem+json with errors[])',
  401: 'Missing or invalid API key',
  404: 'Not found',
  409: 'Not allowed in the current state',
  413: 'Body too large',
  415: 'Unsupported media type',
  422: 'Idempotency key reused with another body',
  429: 'Rate limit exceeded',
  503: 'Temporarily unavailable',
};

/** Documents the problem+json answers an operation can give. */
export function ApiProblems(...statuses: number[]): MethodDecorator {
  return applyDecorators(
    ApiExtraModels(ProblemDto),
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: DESCRIPTIONS[status] ?? 'Error',
        content: { 'application/problem+json': { schema: { $ref: getSchemaPath(ProblemDto) } } },
      }),
    ),
  );
}
