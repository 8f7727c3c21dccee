import { createZodDto } from 'nestjs-zod';
import { problemSchema } from './problem';

/** problem+json in the OpenAPI document. */
export class ProblemDto extends createZodDto(problemSchema) {}
