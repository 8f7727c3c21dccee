CREATE TABLE `agents` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`name` text NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`status` text DEFAULT 'active' NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`system_prompt` text NOT NULL,
	`model` text,
	`temperature` real,
	`max_output_tokens` integer,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `agents_type_unique` ON `agents` (`type`);--> statement-breakpoint
CREATE TABLE `llm_calls` (
	`id` text PRIMARY KEY NOT NULL,
	`workflow_id` text NOT NULL,
	`task_id` text,
	`agent_type` text NOT NULL,
	`purpose` text NOT NULL,
	`provider` text NOT NULL,
	`model` text NOT NULL,
	`input_tokens` integer DEFAULT 0 NOT NULL,
	`output_tokens` integer DEFAULT 0 NOT NULL,
	`latency_ms` integer NOT NULL,
	`status` text NOT NULL,
	`error` text,
	`created_at` text NOT NULL,
	FOREIGN KEY (`workflow_id`) REFERENCES `workflows`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `llm_calls_workflow_id_idx` ON `llm_calls` (`workflow_id`);--> statement-breakpoint
CREATE INDEX `llm_calls_task_id_idx` ON `llm_calls` (`task_id`);--> statement-breakpoint
CREATE TABLE `tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`workflow_id` text NOT NULL,
	`key` text NOT NULL,
	`position` integer NOT NULL,
	`title` text NOT NULL,
	`agent_type` text NOT NULL,
	`input` text NOT NULL,
	`output` text,
	`status` text DEFAULT 'pending' NOT NULL,
	`depends_on` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`run_id` text,
	`error` text,
	`created_at` text NOT NULL,
	`started_at` text,
	`finished_at` text,
	FOREIGN KEY (`workflow_id`) REFERENCES `workflows`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tasks_workflow_key_uq` ON `tasks` (`workflow_id`,`key`);--> statement-breakpoint
CREATE INDEX `tasks_workflow_position_idx` ON `tasks` (`workflow_id`,`position`);--> statement-breakpoint
CREATE INDEX `tasks_agent_type_id_idx` ON `tasks` (`agent_type`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_status_idx` ON `tasks` (`status`);--> statement-breakpoint
CREATE TABLE `workflow_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`workflow_id` text NOT NULL,
	`task_id` text,
	`type` text NOT NULL,
	`message` text NOT NULL,
	`data` text,
	`created_at` text NOT NULL,
	FOREIGN KEY (`workflow_id`) REFERENCES `workflows`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `workflow_events_workflow_id_idx` ON `workflow_events` (`workflow_id`,`id`);--> statement-breakpoint
CREATE TABLE `workflows` (
	`id` text PRIMARY KEY NOT NULL,
	`user_request` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`plan` text,
	`result` text,
	`error` text,
	`require_approval` integer DEFAULT false NOT NULL,
	`allowed_agents` text,
	`metadata` text,
	`idempotency_key` text,
	`request_hash` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`started_at` text,
	`finished_at` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `workflows_idempotency_key_unique` ON `workflows` (`idempotency_key`);--> statement-breakpoint
CREATE INDEX `workflows_status_id_idx` ON `workflows` (`status`,`id`);