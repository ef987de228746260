// One build configuration for every publishable package: ESM + CJS + type declarations.
import { defineConfig } from 'tsup'

/**
 * Returns the shared tsup configuration, with per-package overrides.
 * @param {import('tsup').Options} [overrides]
 */
export function defineBookgenConfig(overrides = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    splitting: false,
    treeshake: true,
    outDir: 'dist',
    ...overrides,
  })
}
