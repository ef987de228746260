import { transform } from 'esbuild'
import { mergeConfig } from 'vitest/config'
import { defineBookgenTestConfig } from '../../tools/build/vitest.mjs'

// vitest's default transform does not lower TypeScript 5 standard decorators yet; esbuild does.
const standardDecorators = {
  name: 'bookgen-standard-decorators',
  enforce: 'pre' as const,
  async transform(code: string, id: string) {
    if (!id.endsWith('.decorators.test.ts')) return null
    const out = await transform(code, {
      loader: 'ts',
      target: 'es2022',
      sourcemap: true,
      sourcefile: id,
    })
    return { code: out.code, map: out.map }
  },
}

export default mergeConfig(defineBookgenTestConfig(), { plugins: [standardDecorators] })
