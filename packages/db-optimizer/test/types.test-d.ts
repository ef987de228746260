import { integer, pgTable, serial, text } from 'drizzle-orm/pg-core'
import { describe, expectTypeOf, it } from 'vitest'
import {
  type Database,
  DbOptimizerError,
  type DbOptimizerErrorCode,
  eagerLoad,
  loadChildren,
  optimizeForReadHeavy,
  type PoolPreset,
  QueryOptimizer,
  selectinLoad,
} from '../src/index.js'

const parents = pgTable('p', { id: serial('id').primaryKey(), name: text('name').notNull() })
const children = pgTable('c', {
  id: serial('id').primaryKey(),
  parentId: integer('parent_id'),
  body: text('body'),
})
declare const database: Database
const optimizer = new QueryOptimizer(database.db)

describe('types', () => {
  it('batchInsert takes the table insert shape and returns a count', () => {
    expectTypeOf(optimizer.batchInsert(parents, [{ name: 'a' }])).toEqualTypeOf<Promise<number>>()
    // @ts-expect-error name is required
    optimizer.batchInsert(parents, [{ id: 1 }])
    // @ts-expect-error not a column
    optimizer.batchInsert(parents, [{ name: 'a', nope: 1 }])
    // @ts-expect-error onConflict target must be a column key
    optimizer.batchInsert(parents, [{ name: 'a' }], { onConflict: { target: 'nope' } })
  })

  it('timeQuery returns what the query resolves to', async () => {
    const rows = await optimizer.timeQuery('all', () => database.db.select().from(parents))
    expectTypeOf(rows).toEqualTypeOf<{ id: number; name: string }[]>()
    expectTypeOf(await optimizer.timeQuery('n', async () => 42)).toEqualTypeOf<number>()
  })

  it('trackNPlusOne returns what the operation resolves to', async () => {
    expectTypeOf(await optimizer.trackNPlusOne(async () => 'x')).toEqualTypeOf<string>()
    expectTypeOf(
      await optimizer.trackNPlusOne(() => database.db.select().from(parents), { threshold: 3 }),
    ).toEqualTypeOf<{ id: number; name: string }[]>()
    // @ts-expect-error unknown option
    await optimizer.trackNPlusOne(async () => 1, { nope: true })
  })

  it('batchUpdate takes partial rows and a column key', () => {
    expectTypeOf(
      optimizer.batchUpdate(parents, [{ id: 1, name: 'b' }], { key: 'id' }),
    ).toEqualTypeOf<Promise<number>>()
    // @ts-expect-error key must be a column key
    optimizer.batchUpdate(parents, [{ id: 1 }], { key: 'nope' })
  })

  it('loading helpers type the children property', async () => {
    const loaded = await eagerLoad(database.db, {
      parent: parents,
      child: children,
      foreignKey: children.parentId,
      as: 'kids',
    })
    expectTypeOf(loaded[0]!.name).toEqualTypeOf<string>()
    expectTypeOf(loaded[0]!.kids).toEqualTypeOf<
      { id: number; parentId: number | null; body: string | null }[]
    >()
    const two = await selectinLoad(database.db, {
      parent: parents,
      child: children,
      foreignKey: children.parentId,
      as: 'kids',
    })
    expectTypeOf(two[0]!.kids[0]!.body).toEqualTypeOf<string | null>()
  })

  it('columns narrows the parent and child row types', async () => {
    const without = await eagerLoad(database.db, {
      parent: parents,
      child: children,
      foreignKey: children.parentId,
      as: 'kids',
      columns: { child: { body: false } },
    })
    expectTypeOf(without[0]!.kids[0]!).toEqualTypeOf<{ id: number; parentId: number | null }>()
    expectTypeOf(without[0]!.name).toEqualTypeOf<string>()
    const only = await selectinLoad(database.db, {
      parent: parents,
      child: children,
      foreignKey: children.parentId,
      as: 'kids',
      columns: { parent: { name: true }, child: { body: true } },
    })
    expectTypeOf(only[0]!).toEqualTypeOf<{ name: string } & { kids: { body: string | null }[] }>()
    const attached = await loadChildren(database.db, [{ id: 1 }], {
      child: children,
      foreignKey: children.parentId,
      references: parents.id,
      as: 'kids',
      columns: { child: { id: true } },
    })
    expectTypeOf(attached[0]!.kids[0]!).toEqualTypeOf<{ id: number }>()
    await eagerLoad(database.db, {
      parent: parents,
      child: children,
      foreignKey: children.parentId,
      as: 'kids',
      // @ts-expect-error not a column of the child table
      columns: { child: { nope: false } },
    })
  })

  it('errors carry a typed code; presets are typed options', () => {
    expectTypeOf(
      new DbOptimizerError('BATCH_FAILED', 'x').code,
    ).toEqualTypeOf<DbOptimizerErrorCode>()
    expectTypeOf(optimizeForReadHeavy()).toEqualTypeOf<PoolPreset>()
    expectTypeOf(optimizeForReadHeavy().options.max).toEqualTypeOf<number>()
  })
})
