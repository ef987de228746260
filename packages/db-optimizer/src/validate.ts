import { DbOptimizerError } from './dbOptimizerError.js'

/** Throws INVALID_ARGUMENT unless `value` (the argument called `name`) is an integer > 0. @internal */
export function checkPositiveInteger(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      `${name} must be a positive integer, got ${String(value)}`,
    )
  }
}

/** Throws INVALID_ARGUMENT unless `value` (the argument called `name`) is a number ≥ 0. @internal */
export function checkNonNegative(name: string, value: unknown): void {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      `${name} must be a number ≥ 0, got ${String(value)}`,
    )
  }
}

/** Throws INVALID_ARGUMENT unless `value` is one of `allowed`. @internal */
export function checkOneOf<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
): asserts value is T {
  if (!allowed.includes(value as T)) {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      `${name} must be ${allowed.map((a) => `'${a}'`).join(', ')}, got ${typeof value === 'string' ? `'${value}'` : String(value)}`,
    )
  }
}

/** Throws INVALID_ARGUMENT unless `value` is undefined or a function. @internal */
export function checkOptionalFunction(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      `${name} must be a function, got ${value === null ? 'null' : typeof value}`,
    )
  }
}

/** Throws INVALID_ROWS unless `value` (the argument called `name`) is an array. @internal */
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

/** Quotes an identifier for PostgreSQL. @internal */
export function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}
