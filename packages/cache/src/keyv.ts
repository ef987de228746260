// `@bookgen/cache/keyv`: the Keyv storage adapter. Keyv itself is an optional peer dependency and is
// never imported here: the adapter only has to look like one.
export type { KeyvStoreOpts } from './keyvStore.js'
export { KeyvStore } from './keyvStore.js'
