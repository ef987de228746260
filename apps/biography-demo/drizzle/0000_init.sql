CREATE TABLE "biographies" (
	"id" uuid PRIMARY KEY NOT NULL,
	"slug" text NOT NULL,
	"name" text NOT NULL,
	"variant" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"source_count" integer DEFAULT 0 NOT NULL,
	"chapter_count" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "chapters" (
	"id" uuid PRIMARY KEY NOT NULL,
	"biography_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"title" text NOT NULL,
	"period" text NOT NULL,
	"content" text NOT NULL,
	"citations" jsonb NOT NULL,
	"word_count" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "generation_jobs" (
	"id" uuid PRIMARY KEY NOT NULL,
	"biography_id" uuid,
	"variant" text NOT NULL,
	"status" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone,
	"duration_ms" real,
	"metrics" jsonb
);
--> statement-breakpoint
CREATE TABLE "sources" (
	"id" uuid PRIMARY KEY NOT NULL,
	"biography_id" uuid NOT NULL,
	"ref" integer,
	"url" text NOT NULL,
	"domain" text NOT NULL,
	"title" text,
	"author" text,
	"published" text,
	"status" integer NOT NULL,
	"valid" boolean NOT NULL,
	"score" real NOT NULL,
	"credibility" real NOT NULL,
	"words" integer NOT NULL,
	"duplicate_of" uuid,
	"content_hash" text NOT NULL,
	"content" text NOT NULL,
	"fetch_ms" real NOT NULL
);
--> statement-breakpoint
ALTER TABLE "chapters" ADD CONSTRAINT "chapters_biography_id_biographies_id_fk" FOREIGN KEY ("biography_id") REFERENCES "biographies"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "generation_jobs" ADD CONSTRAINT "generation_jobs_biography_id_biographies_id_fk" FOREIGN KEY ("biography_id") REFERENCES "biographies"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sources" ADD CONSTRAINT "sources_biography_id_biographies_id_fk" FOREIGN KEY ("biography_id") REFERENCES "biographies"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "chapters_biography_idx" ON "chapters" USING btree ("biography_id");--> statement-breakpoint
CREATE INDEX "sources_biography_idx" ON "sources" USING btree ("biography_id");