import { relations } from 'drizzle-orm'
import {
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  real,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core'

/** One generated biography (one per figure and run). */
export const biographies = pgTable('biographies', {
  id: uuid('id').primaryKey(),
  slug: text('slug').notNull(),
  name: text('name').notNull(),
  variant: text('variant').notNull(),
  status: text('status').notNull().default('pending'),
  sourceCount: integer('source_count').notNull().default(0),
  chapterCount: integer('chapter_count').notNull().default(0),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }),
})

/** Every source considered for a biography, valid or not. */
export const sources = pgTable(
  'sources',
  {
    id: uuid('id').primaryKey(),
    biographyId: uuid('biography_id')
      .notNull()
      .references(() => biographies.id, { onDelete: 'cascade' }),
    ref: integer('ref'),
    url: text('url').notNull(),
    domain: text('domain').notNull(),
    title: text('title'),
    author: text('author'),
    published: text('published'),
    status: integer('status').notNull(),
    valid: boolean('valid').notNull(),
    score: real('score').notNull(),
    credibility: real('credibility').notNull(),
    words: integer('words').notNull(),
    duplicateOf: uuid('duplicate_of'),
    contentHash: text('content_hash').notNull(),
    content: text('content').notNull(),
    fetchMs: real('fetch_ms').notNull(),
  },
  (t) => [index('sources_biography_idx').on(t.biographyId)],
)

/** Chapters of a biography; `content` is the heavy column, loaded on demand. */
export const chapters = pgTable(
  'chapters',
  {
    id: uuid('id').primaryKey(),
    biographyId: uuid('biography_id')
      .notNull()
      .references(() => biographies.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    title: text('title').notNull(),
    period: text('period').notNull(),
    content: text('content').notNull(),
    citations: jsonb('citations').$type<number[]>().notNull(),
    wordCount: integer('word_count').notNull(),
  },
  (t) => [index('chapters_biography_idx').on(t.biographyId)],
)

/** One run of the generator (naive, optimized cold or warm) with its measured metrics. */
export const generationJobs = pgTable('generation_jobs', {
  id: uuid('id').primaryKey(),
  biographyId: uuid('biography_id').references(() => biographies.id, { onDelete: 'set null' }),
  variant: text('variant').notNull(),
  status: text('status').notNull(),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
  finishedAt: timestamp('finished_at', { withTimezone: true }),
  durationMs: real('duration_ms'),
  metrics: jsonb('metrics').$type<Record<string, unknown>>(),
})

export const biographiesRelations = relations(biographies, ({ many }) => ({
  chapters: many(chapters),
  sources: many(sources),
}))

export const chaptersRelations = relations(chapters, ({ one }) => ({
  biography: one(biographies, { fields: [chapters.biographyId], references: [biographies.id] }),
}))

export const sourcesRelations = relations(sources, ({ one }) => ({
  biography: one(biographies, { fields: [sources.biographyId], references: [biographies.id] }),
}))
