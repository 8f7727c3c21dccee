import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { z } from 'zod';
import {
  eventSchema,
  workflowDetailSchema,
  type WorkflowDetail,
  type WorkflowEvent,
} from '../../src/modules/workflows/workflows.contract';

const eventPageSchema = z.object({
  items: z.array(eventSchema),
  nextCursor: z.string().nullable(),
});

export function api(app: NestFastifyApplication) {
  return request(app.getHttpServer());
}

export async function submit(
  app: NestFastifyApplication,
  body: Record<string, unknown>,
): Promise<WorkflowDetail> {
  const response = await api(app).post('/api/v1/workflows').send(body);
  if (response.status !== 202 && response.status !== 200) {
    throw new Error(`submit answered ${response.status}: ${JSON.stringify(response.body)}`);
  }
  return workflowDetailSchema.parse(response.body);
}

export async function getWorkflow(
  app: NestFastifyApplication,
  id: string,
): Promise<WorkflowDetail> {
  const response = await api(app).get(`/api/v1/workflows/${id}`).expect(200);
  return workflowDetailSchema.parse(response.body);
}

/** Polls until the workflow is in one of the statuses (bounded). */
export async function waitForStatus(
  app: NestFastifyApplication,
  id: string,
  statuses: readonly string[],
  timeoutMs = 15_000,
): Promise<WorkflowDetail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const workflow = await getWorkflow(app, id);
    if (statuses.includes(workflow.status)) return workflow;
    if (Date.now() > deadline) {
      throw new Error(`workflow ${id} is ${workflow.status}, expected ${statuses.join('|')}`);
    }
    await sleep(25);
  }
}

export async function allEvents(app: NestFastifyApplication, id: string): Promise<WorkflowEvent[]> {
  const response = await api(app).get(`/api/v1/workflows/${id}/events?limit=1000`).expect(200);
  return eventPageSchema.parse(response.body).items;
}

/** Waits until an event of the given type exists for the workflow (bounded). */
export async function waitForEvent(
  app: NestFastifyApplication,
  id: string,
  type: string,
  timeoutMs = 15_000,
): Promise<WorkflowEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await allEvents(app, id)).find((e) => e.type === type);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no ${type} event for ${id}`);
    await sleep(25);
  }
}

export const eventsPage = eventPageSchema;
