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
      // bounds for a hang, not for speed: under a loaded machine a real-server test may take many seconds
      testTimeout: 120_000,
      hookTimeout: 180_000,
      ...test,
    },
  })
}
