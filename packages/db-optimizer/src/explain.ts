import { type SQLWrapper, sql } from 'drizzle-orm'
import { DbOptimizerError } from './dbOptimizerError.js'
import { resultRows } from './tableInfo.js'
import type { AnyPgDatabase } from './types.js'

/** Options of `QueryOptimizer.explain`. */
export interface ExplainOptions {
  /**
   * Run the query and report real row counts and times (`EXPLAIN ANALYZE`). It runs inside a
   * transaction that is always rolled back, so INSERT/UPDATE/DELETE change nothing.
   * @default false
   */
  analyze?: boolean
  /**
   * Add buffer usage (`BUFFERS`) when analysing.
   * @default false
   */
  buffers?: boolean
}

/** One node of a PostgreSQL plan, as `EXPLAIN (FORMAT JSON)` reports it. */
export interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  'Total Cost': number
  'Plan Rows': number
  'Actual Rows'?: number
  'Actual Total Time'?: number
  Plans?: PlanNode[]
  [field: string]: unknown
}

/** What `explain` returns. */
export interface ExplainResult {
  /** The root plan node. */
  plan: PlanNode
  /** Planner's total cost estimate of the root node. */
  totalCost: number
  /** Planning time, milliseconds (with `analyze`). */
  planningTimeMs: number | undefined
  /** Execution time, milliseconds (with `analyze`). */
  executionTimeMs: number | undefined
  /** The plan as an indented tree, one node a line. */
  text: string
}

class Rollback extends Error {}

/** @internal */
export async function explainQuery(
  db: AnyPgDatabase,
  query: SQLWrapper,
  options: ExplainOptions = {},
): Promise<ExplainResult> {
  if (
    query === null ||
    typeof query !== 'object' ||
    typeof (query as SQLWrapper).getSQL !== 'function'
  ) {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      `query must be a drizzle query builder or sql\`\` expression, got ${query === null ? 'null' : typeof query}`,
    )
  }
  const flags = ['format json']
  if (options.analyze === true) flags.push('analyze')
  if (options.analyze === true && options.buffers === true) flags.push('buffers')
  const statement = sql`explain (${sql.raw(flags.join(', '))}) ${query.getSQL()}`
  let result: unknown
  if (options.analyze === true) {
    const rollback = new Rollback('rollback')
    try {
      await db.transaction(async (tx) => {
        result = await tx.execute(statement)
        throw rollback
      })
    } catch (error) {
      if (error !== rollback) throw error
    }
  } else {
    result = await db.execute(statement)
  }
  const row = resultRows<Record<string, unknown>>(result)[0] ?? {}
  let value = row['QUERY PLAN']
  if (typeof value === 'string') value = JSON.parse(value)
  const top = (Array.isArray(value) ? value[0] : value) as Record<string, unknown>
  const plan = top.Plan as PlanNode
  return {
    plan,
    totalCost: plan['Total Cost'],
    planningTimeMs: top['Planning Time'] as number | undefined,
    executionTimeMs: top['Execution Time'] as number | undefined,
    text: render(plan, 0).join('\n'),
  }
}

function render(node: PlanNode, depth: number): string[] {
  const on = node['Relation Name'] === undefined ? '' : ` on ${node['Relation Name']}`
  const actual =
    node['Actual Rows'] === undefined
      ? ''
      : ` (actual rows=${node['Actual Rows']} time=${node['Actual Total Time']} ms)`
  const line = `${'  '.repeat(depth)}${depth > 0 ? '-> ' : ''}${node['Node Type']}${on} (cost=${node['Total Cost']} rows=${node['Plan Rows']})${actual}`
  return [line, ...(node.Plans ?? []).flatMap((child) => render(child, depth + 1))]
}
