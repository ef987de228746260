#!/usr/bin/env node
// Release checks for the package in the current folder:
//   1. publint --strict
//   2. attw (are the types wrong) on the packed tarball
//   3. npm pack, install the tarball alone into a fresh temporary project outside the workspace,
//      then import it from ESM and require it from CommonJS; both must expose the same exports.
//      When the package has test/pack-smoke.mjs and/or test/pack-smoke.cjs, they run there too.
//   4. what a registry page needs: LICENSE (the workspace's) in the tarball, license, repository,
//      homepage and bugs fields, and no README link to a file the tarball does not ship.
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, normalize, resolve } from 'node:path'

const pkgDir = process.cwd()
const root = resolve(pkgDir, '../..')
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'))
const bin = (name) => join(root, 'node_modules', '.bin', name)
const sh = (file, args, cwd) => {
  try {
    return execFileSync(file, args, { cwd, stdio: 'pipe', encoding: 'utf8' })
  } catch (error) {
    console.error(`[pack-check] ${pkg.name}: ${file} ${args.join(' ')} failed`)
    console.error(error.stdout ?? '', error.stderr ?? '')
    process.exit(1)
  }
}

console.log(sh(bin('publint'), ['--strict'], pkgDir).trim())

const work = mkdtempSync(join(tmpdir(), 'bookgen-pack-'))
try {
  const packed = JSON.parse(sh('npm', ['pack', '--json', '--pack-destination', work], pkgDir))
  const tarball = join(work, packed[0].filename)
  const files = packed[0].files.map((f) => f.path)
  const stray = files.filter(
    (f) => f !== 'package.json' && f !== 'README.md' && !/^(dist\/|LICENSE)/.test(f),
  )
  if (stray.length > 0) {
    console.error(`[pack-check] ${pkg.name}: unexpected files in the tarball: ${stray.join(', ')}`)
    process.exit(1)
  }
  const problems = publishingProblems(pkg, files, pkgDir)
  if (problems.length > 0) {
    console.error(`[pack-check] ${pkg.name}:\n  ${problems.join('\n  ')}`)
    process.exit(1)
  }
  // Subpath exports cannot resolve under TypeScript's legacy node10 resolution without
  // typesVersions fallback arrays (which publint --strict rejects): such packages are checked
  // for node16 (CJS and ESM) and bundlers.
  const subpaths = Object.keys(pkg.exports ?? {}).some((k) => k !== '.' && k !== './package.json')
  const profile = subpaths ? ['--profile', 'node16'] : []
  console.log(sh(bin('attw'), [tarball, '--format', 'table-flipped', ...profile], pkgDir).trim())

  const project = join(work, 'project')
  execFileSync('mkdir', ['-p', project])
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'pack-check-consumer', version: '1.0.0', private: true }, null, 2),
  )
  sh(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball],
    project,
  )
  const tree = JSON.parse(sh('npm', ['ls', '--all', '--json'], project))
  const ours = []
  const walk = (deps = {}) => {
    for (const [name, node] of Object.entries(deps)) {
      if (name.startsWith('@bookgen/') && name !== pkg.name) ours.push(name)
      walk(node.dependencies)
    }
  }
  walk(tree.dependencies)
  if (ours.length > 0) {
    console.error(`[pack-check] ${pkg.name}: installing it pulled in ${ours.join(', ')}`)
    process.exit(1)
  }
  writeFileSync(
    join(project, 'esm.mjs'),
    `const m = await import(${JSON.stringify(pkg.name)})\nconsole.log(JSON.stringify(Object.keys(m).filter((k) => k !== 'default').sort()))\n`,
  )
  writeFileSync(
    join(project, 'cjs.cjs'),
    `const m = require(${JSON.stringify(pkg.name)})\nconsole.log(JSON.stringify(Object.keys(m).sort()))\n`,
  )
  const esm = JSON.parse(sh('node', ['esm.mjs'], project))
  const cjs = JSON.parse(sh('node', ['cjs.cjs'], project))
  if (esm.length === 0 || JSON.stringify(esm) !== JSON.stringify(cjs)) {
    console.error(
      `[pack-check] ${pkg.name}: ESM exports ${esm.join(',')} differ from CJS ${cjs.join(',')}`,
    )
    process.exit(1)
  }
  for (const smoke of ['pack-smoke.mjs', 'pack-smoke.cjs']) {
    const source = join(pkgDir, 'test', smoke)
    if (!existsSync(source)) continue
    copyFileSync(source, join(project, smoke))
    const out = sh('node', [smoke], project).trim()
    console.log(`[pack-check] ${pkg.name}: ${smoke} ok${out ? `: ${out}` : ''}`)
  }
  console.log(`[pack-check] ${pkg.name}: ${esm.length} exports, identical from ESM and CommonJS`)
} finally {
  rmSync(work, { recursive: true, force: true })
}

/** What would make the published package incomplete: missing metadata, licence or link targets. */
function publishingProblems(manifest, shipped, dir) {
  const problems = []
  for (const field of ['license', 'repository', 'homepage', 'bugs', 'description']) {
    if (manifest[field] === undefined) problems.push(`package.json has no "${field}" field`)
  }
  if (manifest.repository?.directory !== undefined) {
    const expected = dir.slice(root.length + 1)
    if (manifest.repository.directory !== expected) {
      problems.push(
        `repository.directory is ${manifest.repository.directory}, expected ${expected}`,
      )
    }
  }
  if (!shipped.includes('LICENSE')) problems.push('the tarball has no LICENSE file')
  else if (
    readFileSync(join(dir, 'LICENSE'), 'utf8') !== readFileSync(join(root, 'LICENSE'), 'utf8')
  ) {
    problems.push("LICENSE differs from the workspace's LICENSE")
  }
  if (!shipped.includes('README.md')) problems.push('the tarball has no README.md')
  else {
    const readme = readFileSync(join(dir, 'README.md'), 'utf8')
    for (const match of readme.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = match[1].split('#')[0]
      if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue
      const path = normalize(join(dirname('README.md'), target)).replace(/\/$/, '')
      const ok = shipped.some((f) => f === path || f.startsWith(`${path}/`))
      if (!ok) problems.push(`README.md links to ${target}, which the tarball does not ship`)
    }
  }
  return problems
}
