import { DbOptimizerError } from './dbOptimizerError.js'

/**
 * Throws INVALID_ROWS unless `value` (the argument called `name`) is an array.
 * @internal
 */
export function checkRowArray(name: string, value: unknown): void {
  if (!Array.isArray(value)) {
    throw new DbOptimizerError(
      'INVALID_ROWS',
      `${name} must be an array of objects, got ${typeof value}`,
    )
  }
}

/**
 * Throws INVALID_ROWS unless `row`, element `index` of the array called `name`, is a plain object.
 * @internal
 */
export function checkRowObject(
  name: string,
  index: number,
  row: unknown,
): asserts row is Record<string, unknown> {
  if (row === null || typeof row !== 'object' || Array.isArray(row)) {
    throw new DbOptimizerError(
      'INVALID_ROWS',
      `${name}[${index}] must be an object, got ${row === null ? 'null' : typeof row}`,
    )
  }
}
