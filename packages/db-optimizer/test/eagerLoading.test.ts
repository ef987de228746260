import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { asc, desc, eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Database,
  eagerLoad,
  loadChildren,
  QUERY_CHANNEL,
  type QueryChannelMessage,
  QueryOptimizer,
  selectinLoad,
} from '../src/index.js'
import { closeDriverSuite, openDriverSuite } from './driverSuite.js'
import { drivers, type Tables } from './drivers.js'

describe.each(drivers)('eager and select-in loading on $name', (driver) => {
  let database: Database
  let tables: Tables
  let optimizer: QueryOptimizer

  beforeAll(async () => {
    ;({ database, tables, optimizer } = await openDriverSuite(driver))
    await optimizer.batchInsert(
      tables.biographies,
      Array.from({ length: 12 }, (_, i) => ({ name: `Person ${i + 1}` })),
    )
    // 3 children for each of the first 10 parents; parents 11 and 12 have none
    await optimizer.batchInsert(
      tables.sources,
      Array.from({ length: 30 }, (_, i) => ({
        url: `s${i}`,
        title: `t${i}`,
        biographyId: (i % 10) + 1,
      })),
    )
  })

  afterAll(() => closeDriverSuite(database, tables))

  const expectations = (
    loaded: { id: number; name: string; sources: { url: string; biographyId: number | null }[] }[],
  ) => {
    expect(loaded.map((p) => p.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
    expect(loaded[0]?.sources.map((s) => s.url)).toEqual(['s0', 's10', 's20'])
    expect(loaded[9]?.sources.map((s) => s.url)).toEqual(['s9', 's19', 's29'])
    expect(loaded[10]?.sources).toEqual([])
    for (const p of loaded) for (const s of p.sources) expect(s.biographyId).toBe(p.id)
  }

  it('eagerLoad: parents and children in ONE statement', async () => {
    optimizer.reset()
    const loaded = await eagerLoad(database.db, {
      parent: tables.biographies,
      child: tables.sources,
      foreignKey: tables.sources.biographyId,
      as: 'sources',
      orderBy: asc(tables.biographies.id),
      orderChildrenBy: asc(tables.sources.id),
    })
    expect(optimizer.getQueryStats().all.count).toBe(1)
    expectations(loaded)
    expect(loaded[0]?.name).toBe('Person 1')
  })

  it('selectinLoad: parents, then all children with = ANY($1): TWO statements', async () => {
    optimizer.reset()
    const loaded = await selectinLoad(database.db, {
      parent: tables.biographies,
      child: tables.sources,
      foreignKey: tables.sources.biographyId,
      as: 'sources',
      orderBy: tables.biographies.id,
      orderChildrenBy: tables.sources.id,
    })
    const shapes = Object.keys(optimizer.getQueryStats().byShape)
    expect(optimizer.getQueryStats().all.count).toBe(2)
    expect(shapes.some((s) => s.includes('any(cast('))).toBe(true)
    expectations(loaded)
  })

  it('applies where and limit to parents, not to joined rows', async () => {
    for (const load of [eagerLoad, selectinLoad]) {
      const loaded = await load(database.db, {
        parent: tables.biographies,
        child: tables.sources,
        foreignKey: tables.sources.biographyId,
        as: 'sources',
        where: sql`${tables.biographies.id} <= 5`,
        orderBy: desc(tables.biographies.id),
        orderChildrenBy: tables.sources.id,
        limit: 2,
      })
      expect(loaded.map((p) => [p.id, p.sources.length])).toEqual([
        [5, 3],
        [4, 3],
      ])
    }
  })

  it('loadChildren attaches children to parents you already have without touching them', async () => {
    const parents = Object.freeze(
      await database.db
        .select()
        .from(tables.biographies)
        .where(sql`${tables.biographies.id} in (2, 11)`)
        .orderBy(tables.biographies.id),
    )
    optimizer.reset()
    const loaded = await loadChildren(database.db, parents, {
      child: tables.sources,
      foreignKey: tables.sources.biographyId,
      references: tables.biographies.id,
      as: 'sources',
    })
    expect(optimizer.getQueryStats().all.count).toBe(1)
    expect(loaded.map((p) => [p.id, p.sources.length])).toEqual([
      [2, 3],
      [11, 0],
    ])
    expect('sources' in (parents[0] as object)).toBe(false)
    expect(
      await loadChildren(database.db, [], {
        child: tables.sources,
        foreignKey: tables.sources.biographyId,
        references: tables.biographies.id,
        as: 'x',
      }),
    ).toEqual([])
  })

  it('replaces an N+1 loop with the same result, and the detector sees the difference', async () => {
    const loop = new QueryOptimizer(database.db, { logger: { warn: () => {} } })
    const naive = await loop.timeQuery('naive', async () => {
      const parents = await database.db
        .select()
        .from(tables.biographies)
        .orderBy(tables.biographies.id)
      const out = []
      for (const p of parents) {
        out.push({
          ...p,
          sources: await database.db
            .select()
            .from(tables.sources)
            .where(eq(tables.sources.biographyId, p.id))
            .orderBy(tables.sources.id),
        })
      }
      return out
    })
    const fast = await loop.timeQuery('selectin', () =>
      selectinLoad(database.db, {
        parent: tables.biographies,
        child: tables.sources,
        foreignKey: tables.sources.biographyId,
        as: 'sources',
        orderBy: tables.biographies.id,
        orderChildrenBy: tables.sources.id,
      }),
    )
    expect(fast).toEqual(naive)
    const joined = await eagerLoad(database.db, {
      parent: tables.biographies,
      child: tables.sources,
      foreignKey: tables.sources.biographyId,
      as: 'sources',
      orderBy: tables.biographies.id,
      orderChildrenBy: tables.sources.id,
    })
    expect(joined).toEqual(naive)
    expect(loop.getNPlusOneWarnings().map((w) => [w.span, w.count])).toEqual([['naive', 12]])
    loop.close()
  })

  it('decodes every column type exactly as drizzle select does', async () => {
    const rich = [
      {
        url: 'rich-1',
        title: 'r',
        author: 'a',
        publishedAt: new Date('2021-03-04T05:06:07.000Z'),
        score: 0.25,
        verified: true,
        meta: { deep: { list: [1, 'x'] } },
        biographyId: 12,
      },
      {
        url: 'rich-2',
        title: null,
        author: null,
        publishedAt: null,
        score: null,
        verified: false,
        meta: null,
        biographyId: 12,
      },
    ]
    await optimizer.batchInsert(tables.sources, rich)
    const [eager] = await eagerLoad(database.db, {
      parent: tables.biographies,
      child: tables.sources,
      foreignKey: tables.sources.biographyId,
      as: 'sources',
      where: eq(tables.biographies.id, 12),
      orderChildrenBy: tables.sources.id,
    })
    const direct = await database.db
      .select()
      .from(tables.sources)
      .where(eq(tables.sources.biographyId, 12))
      .orderBy(tables.sources.id)
    expect(eager?.sources).toEqual(direct)
    expect(eager?.sources[0]?.publishedAt).toBeInstanceOf(Date)
    expect(eager?.sources[0]?.meta).toEqual({ deep: { list: [1, 'x'] } })
    await database.db.delete(tables.sources).where(eq(tables.sources.biographyId, 12))
  })

  it('columns: omitted columns stay out of the statement and out of the rows', async () => {
    const statements: string[] = []
    const onMessage = (m: unknown) => statements.push((m as QueryChannelMessage).sql)
    subscribe(QUERY_CHANNEL, onMessage)
    try {
      const relation = {
        parent: tables.biographies,
        child: tables.sources,
        foreignKey: tables.sources.biographyId,
        as: 'sources',
        where: sql`${tables.biographies.id} <= 2`,
        orderBy: tables.biographies.id,
        orderChildrenBy: tables.sources.id,
      } as const
      // exclusion: every column but the heavy ones
      const eager = await eagerLoad(database.db, {
        ...relation,
        columns: { parent: { status: false }, child: { title: false, meta: false } },
      })
      expect(statements).toHaveLength(1)
      expect(statements[0]).not.toContain('"title"')
      expect(statements[0]).not.toContain('"meta"')
      expect(statements[0]).not.toContain('"status"')
      expect(statements[0]).toContain('"url"')
      expect(eager.map((p) => Object.keys(p).sort())).toEqual([
        ['id', 'name', 'sources'],
        ['id', 'name', 'sources'],
      ])
      expect(Object.keys(eager[0]?.sources[0] ?? {}).sort()).toEqual(
        ['author', 'biographyId', 'id', 'publishedAt', 'score', 'url', 'verified'].sort(),
      )
      expect(eager[0]?.sources.map((s) => s.url)).toEqual(['s0', 's10', 's20'])
      // inclusion, without the keys: they are read for grouping but not returned
      statements.length = 0
      const only = await eagerLoad(database.db, {
        ...relation,
        columns: { parent: { name: true }, child: { url: true } },
      })
      expect(statements[0]).not.toContain('"title"')
      expect(statements[0]).not.toContain('"status"')
      expect(only).toEqual([
        { name: 'Person 1', sources: [{ url: 's0' }, { url: 's10' }, { url: 's20' }] },
        { name: 'Person 2', sources: [{ url: 's1' }, { url: 's11' }, { url: 's21' }] },
      ])
      statements.length = 0
      const selectin = await selectinLoad(database.db, {
        ...relation,
        columns: { parent: { name: true }, child: { url: true } },
      })
      expect(selectin).toEqual(only)
      expect(statements).toHaveLength(2)
      for (const text of statements) {
        expect(text).not.toContain('"title"')
        expect(text).not.toContain('"status"')
      }
      statements.length = 0
      const children = await loadChildren(database.db, [{ id: 3 }], {
        child: tables.sources,
        foreignKey: tables.sources.biographyId,
        references: tables.biographies.id,
        as: 'sources',
        orderChildrenBy: tables.sources.id,
        columns: { child: { author: false, title: false, meta: false, publishedAt: false } },
      })
      expect(statements).toHaveLength(1)
      for (const column of ['"author"', '"title"', '"meta"', '"published_at"'])
        expect(statements[0]).not.toContain(column)
      expect(children[0]?.sources.map((s) => [s.url, s.biographyId])).toEqual([
        ['s2', 3],
        ['s12', 3],
        ['s22', 3],
      ])
      expect('title' in (children[0]?.sources[0] ?? {})).toBe(false)
    } finally {
      unsubscribe(QUERY_CHANNEL, onMessage)
    }
    const bad = [
      { child: { nope: false } },
      { parent: { nope: true } },
      { child: { url: 1 } },
      { child: ['url'] },
      'url',
    ]
    for (const columns of bad) {
      await expect(
        eagerLoad(database.db, {
          parent: tables.biographies,
          child: tables.sources,
          foreignKey: tables.sources.biographyId,
          as: 'sources',
          columns: columns as never,
        }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    }
    await expect(
      selectinLoad(database.db, {
        parent: tables.biographies,
        child: tables.sources,
        foreignKey: tables.sources.biographyId,
        as: 'sources',
        columns: { parent: { nope: false } as never },
      }),
    ).rejects.toThrow(/options\.columns\.parent names "nope"/)
  })

  it('rejects bad relations with a code', async () => {
    await expect(
      eagerLoad(database.db, {
        parent: tables.biographies,
        child: tables.sources,
        foreignKey: tables.biographies.id,
        as: 'x',
      }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(
        /^options\.foreignKey must be a column of options\.child, got column "id" of table "dbo_bio_/,
      ),
    })
    await expect(
      selectinLoad(database.db, {
        parent: {} as never,
        child: tables.sources,
        foreignKey: tables.sources.biographyId,
        as: 'x',
      }),
    ).rejects.toMatchObject({ code: 'INVALID_TABLE' })
    await expect(
      eagerLoad(database.db, {
        parent: tables.biographies,
        child: tables.sources,
        foreignKey: tables.sources.biographyId,
        as: '',
      }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  })
})
