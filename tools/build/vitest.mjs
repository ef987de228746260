// One test configuration for every package: tests in test/, type tests in *.test-d.ts.
import { defineConfig } from 'vitest/config'

/**
 * Returns the shared vitest configuration, with per-package overrides of `test`.
 * @param {import('vitest/config').UserConfig['test']} [test]
 */
export function defineBookgenTestConfig(test = {}) {
  return defineConfig({
    test: {
      include: ['test/**/*.test.ts'],
      typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
      testTimeout: 30_000,
      hookTimeout: 60_000,
      ...test,
    },
  })
}
