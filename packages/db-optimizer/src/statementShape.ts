const cache = new Map<string, string>()
const CACHE_LIMIT = 2000

/**
 * The shape of a SQL statement: literals (quoted, dollar-quoted `$$…$$`, numbers) and parameters
 * replaced by `?`, and lists of values collapsed (`IN ($1, $2, …)`, `array[$1, $2, …]`, multi-row
 * `VALUES`, also rows of expressions such as `($1, now())`), and savepoint names dropped, so that
 * the same statement with different values or list lengths gets the same shape.
 */
export function statementShape(sql: string): string {
  let shape = cache.get(sql)
  if (shape !== undefined) return shape
  shape = sql
    .replace(/\$([A-Za-z_][A-Za-z0-9_]*)?\$[\s\S]*?\$\1\$/g, '?')
    .replace(/'(?:[^']|'')*'/g, '?')
    .replace(/\$\d+/g, '?')
    .replace(/(?<![\w"$])-?\d+(?:\.\d+)?(?![\w"])/g, '?')
    .replace(/\s+/g, ' ')
    .replace(/\barray\s*\[\s*\?(?:\s*,\s*\?)*\s*\]/gi, 'array[…]')
    .replace(/\(\s*(?:\?|default|null)(?:\s*,\s*(?:\?|default|null))*\s*\)/gi, '(…)')
    .replace(/\(…\)(?:\s*,\s*\(…\))+/g, '(…)')
    .replace(/(\bvalues\s*)(\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\))(?:\s*,\s*\2)+/gi, '$1$2')
    .replace(
      /^(\s*(?:savepoint|release(?:\s+savepoint)?|rollback\s+to(?:\s+savepoint)?))\s+("[^"]*"|\w+)/i,
      '$1 ?',
    )
    .trim()
  if (cache.size >= CACHE_LIMIT) cache.clear()
  cache.set(sql, shape)
  return shape
}
