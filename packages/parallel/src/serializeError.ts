// Errors crossing the thread boundary. Structured clone keeps only name/message/stack of built-in
// errors, so errors travel as plain records and are rebuilt on the other side with their class
// (for built-ins), name, message, stack, code, cause and own properties.

const MARK = '__bookgenError'
const THROWN = '__bookgenThrown'

const BUILTINS: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
}

interface ErrorRecord {
  [MARK]: true
  ctor: string
  name: string
  message: string
  stack?: string
  cause?: unknown
  hasCause: boolean
  props: Record<string, unknown>
}

/**
 * Turns anything thrown into a value for the structured clone: an Error becomes a record its class
 * is rebuilt from; anything else travels as it is (a thrown plain object keeps its shape).
 * `cloneableError` is the variant that is sure to cross.
 */
export function serializeError(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error)) {
    return isCloneablePrimitive(error) || typeof error === 'object'
      ? { [THROWN]: error }
      : { [THROWN]: String(error) }
  }
  const props: Record<string, unknown> = {}
  for (const key of Object.keys(error)) {
    if (key === 'name' || key === 'message' || key === 'stack' || key === 'cause') continue
    props[key] = serializeValue((error as unknown as Record<string, unknown>)[key], depth)
  }
  const record: ErrorRecord = {
    [MARK]: true,
    ctor: error.constructor?.name ?? 'Error',
    name: error.name,
    message: error.message,
    hasCause: 'cause' in error,
    props,
  }
  if (typeof error.stack === 'string') record.stack = error.stack
  if (record.hasCause) record.cause = serializeValue(error.cause, depth)
  return record
}

/** `serializeError`, falling back to name, message and stack when the record cannot be cloned. */
export function cloneableError(error: unknown): unknown {
  const record = serializeError(error)
  try {
    structuredClone(record)
    return record
  } catch {
    if (!(error instanceof Error)) return { [THROWN]: String(error) }
    return serializeError(
      Object.assign(new Error(String(error.message)), {
        name: String(error.name),
        stack: String(error.stack ?? ''),
      }),
    )
  }
}

/** Rebuilds what `serializeError` produced. */
export function deserializeError(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value
  if (THROWN in value) return (value as Record<string, unknown>)[THROWN]
  if (!(MARK in value)) return value
  const record = value as ErrorRecord
  const Ctor = BUILTINS[record.ctor] ?? (record.ctor === 'AggregateError' ? null : Error)
  const error: Error =
    Ctor === null ? new AggregateError([], record.message) : new Ctor(record.message)
  if (error.name !== record.name) {
    Object.defineProperty(error, 'name', {
      value: record.name,
      writable: true,
      configurable: true,
      enumerable: false,
    })
  }
  if (record.stack !== undefined) {
    Object.defineProperty(error, 'stack', {
      value: record.stack,
      writable: true,
      configurable: true,
      enumerable: false,
    })
  }
  if (record.hasCause) {
    Object.defineProperty(error, 'cause', {
      value: deserializeValue(record.cause),
      writable: true,
      configurable: true,
      enumerable: false,
    })
  }
  for (const [key, prop] of Object.entries(record.props)) {
    ;(error as unknown as Record<string, unknown>)[key] = deserializeValue(prop)
  }
  return error
}

function serializeValue(value: unknown, depth: number): unknown {
  if (value instanceof Error) return depth < 8 ? serializeError(value, depth + 1) : String(value)
  if (Array.isArray(value) && value.some((v) => v instanceof Error)) {
    return value.map((v) => serializeValue(v, depth + 1))
  }
  if (typeof value === 'function' || typeof value === 'symbol') return String(value)
  return value
}

function deserializeValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(deserializeValue)
  return deserializeError(value)
}

function isCloneablePrimitive(value: unknown): boolean {
  const t = typeof value
  return t !== 'function' && t !== 'symbol' && (t !== 'object' || value === null)
}
