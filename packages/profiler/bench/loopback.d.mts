import type { Socket } from 'node:net'

export const OPS: number
export const CONCURRENCY: number
export function openLoopback(): Promise<{ sockets: Socket[]; close(): void }>
export function inlineWorkload(sockets: readonly Socket[]): Promise<void>
export function functionsWorkload(sockets: readonly Socket[]): Promise<void>
export function packagesWorkload(sockets: readonly Socket[]): Promise<void>
