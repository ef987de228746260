/** A tiny CPU task. */
export function double(n: number): number
/** A CPU-heavy task: hashes a document 40 times over. */
export function hashDocument(text: string): string
