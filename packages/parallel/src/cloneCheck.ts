/**
 * Returns where `value` holds something the structured clone algorithm rejects (a function, a
 * symbol, a Promise, a WeakMap...), as a property path like `.user.callback`, or undefined when
 * it can be sent to a worker thread. Cheap for primitives, which is the common case.
 */
export function findUncloneable(value: unknown): string | undefined {
  const t = typeof value
  if (t === 'function' || t === 'symbol') return ''
  if (t !== 'object' || value === null) return undefined
  return walk(value as object, '', new Set())
}

function walk(value: object, path: string, seen: Set<object>): string | undefined {
  if (seen.has(value)) return undefined
  seen.add(value)
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return undefined
  if (value instanceof Date || value instanceof RegExp) return undefined
  if (
    value instanceof Promise ||
    value instanceof WeakMap ||
    value instanceof WeakSet ||
    value instanceof WeakRef
  ) {
    return path
  }
  if (value instanceof Map) {
    for (const [k, v] of value) {
      const found = check(k, `${path}<key>`, seen) ?? check(v, `${path}.get(${String(k)})`, seen)
      if (found !== undefined) return found
    }
    return undefined
  }
  if (value instanceof Set) {
    for (const v of value) {
      const found = check(v, `${path}<item>`, seen)
      if (found !== undefined) return found
    }
    return undefined
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = check(value[i], `${path}[${i}]`, seen)
      if (found !== undefined) return found
    }
    return undefined
  }
  for (const key of Object.keys(value)) {
    const found = check((value as Record<string, unknown>)[key], `${path}.${key}`, seen)
    if (found !== undefined) return found
  }
  return undefined
}

function check(value: unknown, path: string, seen: Set<object>): string | undefined {
  const t = typeof value
  if (t === 'function' || t === 'symbol') return path
  if (t !== 'object' || value === null) return undefined
  return walk(value as object, path, seen)
}
