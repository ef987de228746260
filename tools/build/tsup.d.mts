import type { Options } from 'tsup'
export declare function defineBookgenConfig(overrides?: Options): Options | Options[]
