import { describe, expect, it } from 'vitest'
import { statementShape } from '../src/index.js'

describe('statementShape', () => {
  it('collapses literals, parameters and value lists so one statement has one shape', () => {
    expect(statementShape('select * from "t" where "id" in ($1, $2, $3) and x = 5')).toBe(
      statementShape('select * from "t" where "id" in ($1) and x = \'a\''),
    )
    expect(statementShape('insert into "t1" ("a", "b") values ($1, $2), ($3, default)')).toBe(
      'insert into "t1" ("a", "b") values (…)',
    )
    expect(statementShape('select * from "t1" where "id" = $1')).not.toBe(
      statementShape('select * from "t2" where "id" = $1'),
    )
  })

  it('collapses array[…] lists of any length', () => {
    expect(statementShape('select * from t where id = any(array[$1, $2, $3])')).toBe(
      'select * from t where id = any(array[…])',
    )
    expect(statementShape('select * from t where id = any(ARRAY[$1])')).toBe(
      'select * from t where id = any(array[…])',
    )
  })

  it('collapses multi-row VALUES whose rows hold expressions', () => {
    const one = statementShape('insert into t (a, b) values ($1, now())')
    expect(
      statementShape('insert into t (a, b) values ($1, now()), ($2, now()), ($3, now())'),
    ).toBe(one)
    expect(statementShape('insert into t values ($1, lower($2)), ($3, lower($4))')).toBe(
      statementShape('insert into t values ($1, lower($2))'),
    )
    // rows of different shapes stay apart
    expect(statementShape('insert into t values ($1, now()), ($2, default)')).not.toBe(
      statementShape('insert into t values ($1, now())'),
    )
  })

  it('drops dollar-quoted bodies and savepoint names', () => {
    expect(statementShape('do $$ begin raise notice $x$hi$x$; end $$')).toBe('do ?')
    expect(
      statementShape('create function f() returns int as $body$ select 1 $body$ language sql'),
    ).toBe('create function f() returns int as ? language sql')
    expect(statementShape('savepoint s0')).toBe(statementShape('savepoint s12_name'))
    expect(statementShape('rollback to s3')).toBe('rollback to ?')
    expect(statementShape('release savepoint sp2')).toBe('release savepoint ?')
  })
})
