import type { UserConfig } from 'vitest/config'
export declare function defineBookgenTestConfig(test?: UserConfig['test']): UserConfig
