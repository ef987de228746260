/** A tiny CPU task. */
export function double(n: number): number
/** A CPU-heavy task in plain JavaScript: 40 rounds of FNV-1a over the document (hex digest). */
export function hashDocument(text: string): string
/** The same with node:crypto sha256 chained 40 times (does not scale across threads on Node 20). */
export function hashDocumentSha256(text: string): string
/** A CPU-heavy task in plain JavaScript: a hashed character n-gram embedding of one document. */
export function embedDocument(text: string): Float32Array
/** A batch of tiny CPU tasks in one call (for tinypool and piscina, batched as their docs advise). */
export function doubleBatch(batch: number[]): number[]
/** A tiny CPU task on a string. */
export function shout(word: string): string
/** A batch of `shout` calls in one call (for tinypool and piscina). */
export function shoutBatch(batch: string[]): string[]
