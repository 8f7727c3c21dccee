import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { getQueueToken } from '@nestjs/bullmq';
import type { INestApplicationContext } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { QUEUE_NAMES } from './jobs';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/** The BullMQ queues of the application (BullMQ's Queue type defaults its data to `any`). */
export function bullmqQueues(app: INestApplicationContext): Queue[] {
  return Object.values(QUEUE_NAMES).map((name) => app.get<Queue>(getQueueToken(name)));
}

/** Bull Board for the BullMQ queues, served by the API at /admin/queues. */
export async function mountQueueDashboard(
  fastify: FastifyInstance,
  app: INestApplicationContext,
): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  createBullBoard({
    // type-coverage:ignore-next-line
    queues: bullmqQueues(app).map((queue) => new BullMQAdapter(queue)),
    serverAdapter,
  });
  serverAdapter.setBasePath(QUEUE_DASHBOARD_PATH);
  await fastify.register(serverAdapter.registerPlugin(), { prefix: QUEUE_DASHBOARD_PATH });
}
