/** Stored JSON shapes of a workflow (the API contract mirrors them in workflows.contract.ts). */
export interface PlanStep {
  key: string;
  title: string;
  agentType: string;
  instructions: string;
  dependsOn: string[];
}

export interface Plan {
  steps: PlanStep[];
}

export interface WorkflowResult {
  summary: string;
  safety: { approved: boolean; notes: string };
  outputs: Record<string, string>;
}

export interface ErrorBody {
  code: string;
  message: string;
}

export interface Usage {
  llmCalls: number;
  inputTokens: number;
  outputTokens: number;
}
