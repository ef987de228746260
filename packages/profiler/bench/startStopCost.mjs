// What a profile's start and stop cost, first and later, in instructions (valgrind, so whatever
// else runs on the machine): `node bench/startStopCost.mjs` in packages/profiler, after
// `npx tsup`. Each child (`node startStopCost.mjs <subscribe> <K>`) imports the package, calls
// subscribeChannels() when `<subscribe>` is `subscribed` (or nothing: `lazy`), then runs K
// profiles of startProfile() / one setImmediate turn / stop(). The first profile's cost is
// count(K=1) − count(K=0), a later one's (count(K=11) − count(K=1)) / 10.
import { fileURLToPath } from 'node:url'
import { countInstructions } from './valgrind.mjs'

const [how, k] = process.argv.slice(2)
if (k === undefined) await parent()
else await child()

async function parent() {
  const self = fileURLToPath(import.meta.url)
  console.log('| before the profiles | K = 0 | first profile | each later profile (of 10) |')
  console.log('| --- | ---: | ---: | ---: |')
  for (const h of ['lazy', 'subscribed']) {
    const counts = await Promise.all(
      [0, 1, 11].map(
        async (n) =>
          (await countInstructions([self, h, String(n)], { label: h })).instructions / 1e6,
      ),
    )
    console.log(
      `| ${h === 'lazy' ? 'nothing' : '`subscribeChannels()`'} | ${counts[0].toFixed(1)} M | ${(counts[1] - counts[0]).toFixed(1)} M | ${((counts[2] - counts[1]) / 10).toFixed(2)} M |`,
    )
  }
}

async function child() {
  const { startProfile, subscribeChannels } = await import(
    process.env.BOOKGEN_PROFILER_ENTRY || '@bookgen/profiler'
  )
  if (how === 'subscribed') subscribeChannels()
  for (let i = 0; i < Number(k); i++) {
    const p = startProfile()
    await new Promise((resolve) => setImmediate(resolve))
    p.stop()
  }
}
