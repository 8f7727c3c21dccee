import { z } from 'zod';

/** The plan shape the orchestrator asks for (ARCHITECTURE §4), as the tests check it. */
export const planSchema = z.object({
  steps: z
    .array(
      z.object({
        key: z.string().regex(/^[a-z0-9-]+$/),
        title: z.string().min(1),
        agentType: z.string().min(1),
        instructions: z.string().min(1),
        dependsOn: z.array(z.string()),
      }),
    )
    .min(1)
    .max(12),
});
