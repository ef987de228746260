const cache = new Map<string, string>()
const CACHE_LIMIT = 2000

/**
 * The shape of a SQL statement: literals and parameters replaced by `?`, and lists of values
 * (`IN ($1, $2, …)`, multi-row `VALUES`) collapsed, so that the same statement with different
 * values or list lengths gets the same shape.
 */
export function statementShape(sql: string): string {
  let shape = cache.get(sql)
  if (shape !== undefined) return shape
  shape = sql
    .replace(/'(?:[^']|'')*'/g, '?')
    .replace(/\$\d+/g, '?')
    .replace(/(?<![\w"$])-?\d+(?:\.\d+)?(?![\w"])/g, '?')
    .replace(/\s+/g, ' ')
    .replace(/\(\s*(?:\?|default|null)(?:\s*,\s*(?:\?|default|null))*\s*\)/gi, '(…)')
    .replace(/\(…\)(?:\s*,\s*\(…\))+/g, '(…)')
    .trim()
  if (cache.size >= CACHE_LIMIT) cache.clear()
  cache.set(sql, shape)
  return shape
}
