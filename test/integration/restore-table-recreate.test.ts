import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectClient } from '../../shared/adapters/postgres/client';
import { pgRestoreTableDeps } from '../../shared/runtime/table-restore-deps';
import type { PgConnection } from '../../shared/ports/postgres';
import type { BackupEntry } from '../../shared/domain/backup';
import type { StrongboxError } from '../../shared/errors';
import { pgRestoreDeps } from '../../shared/runtime/restore-tools';
import { runLogicalBackup } from '../../shared/usecases/backup';
import { runRestore } from '../../shared/usecases/restore';
import { previewRecreate, runRestoreTable, type RestoreTableDeps, type RestoreTableRequest } from '../../shared/usecases/restore-table';
import { databaseNames, fingerprint, sql } from '../support/restore';
import { startStack, type Stack } from '../support/stack';

let stack: Stack;
let deps: RestoreTableDeps;
let tmp: string;
let backup: BackupEntry;
let original: { rows: Record<string, string>; objects: string[] };
let described: Description;

/**
 * The trap of issue 13 (item 7): a table with everything a table can have, tied to others both
 * ways (a foreign key from it, two from other tables to it, two views), then `DROP … CASCADE`.
 */
const CRM_SQL = `
CREATE SCHEMA crm;
CREATE TABLE crm.owners (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE crm.accounts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code text NOT NULL DEFAULT 'acct' CHECK (code <> ''),
  owner_id int REFERENCES crm.owners (id),
  email text NOT NULL UNIQUE,
  opened date NOT NULL DEFAULT DATE '2020-01-01',
  balance numeric(12, 2) DEFAULT 0,
  doubled numeric GENERATED ALWAYS AS (balance * 2) STORED
);
CREATE INDEX accounts_opened_idx ON crm.accounts (opened);
CREATE UNIQUE INDEX accounts_lower_email ON crm.accounts (lower(email));
COMMENT ON TABLE crm.accounts IS 'customer accounts';
COMMENT ON COLUMN crm.accounts.code IS 'short code';
CREATE FUNCTION crm.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.balance := coalesce(NEW.balance, 0); RETURN NEW; END$$;
CREATE TRIGGER accounts_touch BEFORE INSERT OR UPDATE ON crm.accounts FOR EACH ROW EXECUTE FUNCTION crm.touch();
CREATE ROLE crm_reader;
GRANT SELECT ON crm.accounts TO crm_reader;
CREATE VIEW crm.rich_accounts AS SELECT id, email, balance FROM crm.accounts WHERE balance > 100;
CREATE VIEW crm.account_owners AS SELECT a.id, o.name FROM crm.accounts a JOIN crm.owners o ON o.id = a.owner_id;
CREATE TABLE crm.payments (id serial PRIMARY KEY, account_id bigint NOT NULL REFERENCES crm.accounts (id), amount numeric NOT NULL);
CREATE TABLE crm.notes (id int PRIMARY KEY, account_ref bigint REFERENCES crm.accounts (id), body text);
INSERT INTO crm.owners SELECT i, 'owner ' || i FROM generate_series(1, 5) AS i;
INSERT INTO crm.accounts (code, owner_id, email, opened, balance)
  SELECT 'c' || i, 1 + i % 5, 'user' || i || '@example.com', DATE '2024-01-01' + i, i * 10 FROM generate_series(1, 40) AS i;
DELETE FROM crm.accounts WHERE id = 40;
-- A row written past the identity: the recreated identity must go on past it, not from the dump's value.
INSERT INTO crm.accounts (id, email, balance) OVERRIDING SYSTEM VALUE VALUES (100, 'imported@example.com', 5);
INSERT INTO crm.payments (account_id, amount) SELECT 1 + i % 39, i FROM generate_series(1, 60) AS i;
INSERT INTO crm.notes SELECT i, i, 'note ' || i FROM generate_series(1, 10) AS i;`;

beforeAll(async () => {
  stack = await startStack({ storage: 'folder', rows: 20 });
  await sql(stack.conn, CRM_SQL);
  tmp = await mkdtemp(join(tmpdir(), 'sbx-recreate-tmp-'));
  deps = { ...stack.deps, ...pgRestoreTableDeps, tmpDir: tmp, lockTimeoutMs: 2_000 };
  original = await state();
  described = await describeAccounts(stack.conn);
  backup = await runLogicalBackup(stack.deps, { database: 'app', connection: stack.conn, tier: 'manual', compression: 'gzip', includeRolePasswords: false, runner: 'test' });
});
afterAll(async () => {
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});
beforeEach(async () => {
  stack.log.lines.length = 0;
  if (JSON.stringify(await state()) === JSON.stringify(original)) return;
  // A full restore (tested on its own) puts the backed-up database back.
  const report = await runRestore({ ...stack.deps, ...pgRestoreDeps, tmpDir: tmp }, { backupId: backup.id, target: stack.conn, jobs: 1, dropFirst: false, force: false });
  await sql({ ...stack.conn, database: 'postgres' }, `DROP DATABASE "${report.keptAs}"`);
});

async function state() {
  const { rows, objects } = await fingerprint(stack.conn);
  return { rows, objects };
}

function recreate(overrides: Partial<RestoreTableRequest> = {}) {
  return runRestoreTable(deps, { backupId: backup.id, target: stack.conn, table: 'crm.accounts', mode: 'recreate', force: false, ...overrides });
}

async function failure(promise: Promise<unknown>): Promise<StrongboxError> {
  try {
    await promise;
  } catch (error) {
    return error as StrongboxError;
  }
  throw new Error('expected the table restore to fail');
}

/** What `\d crm.accounts` shows, and what hangs on the table: read from the catalog. */
interface Description {
  columns: string[];
  constraints: string[];
  incoming: string[];
  indexes: string[];
  triggers: string[];
  comments: string[];
  grants: string[];
  views: string[];
}

async function describeAccounts(conn: PgConnection): Promise<Description> {
  const client = await connectClient(conn);
  const list = async (text: string): Promise<string[]> => (await client.query<{ x: string }>(text)).rows.map((r) => r.x);
  try {
    return {
      columns: await list(`SELECT attname || ' ' || format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' not null' ELSE '' END
          || CASE attidentity WHEN 'a' THEN ' identity always' WHEN 'd' THEN ' identity by default' ELSE '' END
          || coalesce(CASE attgenerated WHEN 's' THEN ' generated ' ELSE ' default ' END || pg_get_expr(d.adbin, d.adrelid), '') AS x
        FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE attrelid = 'crm.accounts'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`),
      constraints: await list("SELECT conname || ' ' || pg_get_constraintdef(oid) AS x FROM pg_constraint WHERE conrelid = 'crm.accounts'::regclass ORDER BY 1"),
      incoming: await list("SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS x FROM pg_constraint WHERE confrelid = 'crm.accounts'::regclass AND conrelid <> confrelid ORDER BY 1"),
      indexes: await list("SELECT indexdef AS x FROM pg_indexes WHERE schemaname = 'crm' AND tablename = 'accounts' ORDER BY 1"),
      triggers: await list("SELECT pg_get_triggerdef(oid) AS x FROM pg_trigger WHERE tgrelid = 'crm.accounts'::regclass AND NOT tgisinternal ORDER BY 1"),
      comments: await list("SELECT coalesce(attname, '(table)') || ': ' || description AS x FROM pg_description d LEFT JOIN pg_attribute a ON a.attrelid = d.objoid AND a.attnum = d.objsubid AND d.objsubid > 0 WHERE d.objoid = 'crm.accounts'::regclass ORDER BY 1"),
      grants: await list("SELECT grantee || ' ' || privilege_type AS x FROM information_schema.role_table_grants WHERE table_schema = 'crm' AND table_name = 'accounts' AND grantee = 'crm_reader' ORDER BY 1"),
      views: await list("SELECT schemaname || '.' || viewname || ': ' || regexp_replace(definition, '\\s+', ' ', 'g') AS x FROM pg_views WHERE schemaname = 'crm' ORDER BY 1"),
    };
  } finally {
    await client.end();
  }
}

describe('restore-table --mode recreate', () => {
  it('brings back a table dropped with CASCADE: every column property, constraint, index, trigger, comment, view and foreign key, its rows and an identity past them (grants: not in the dump, and it says so)', async () => {
    // The description is worth comparing: it holds what the trap loses.
    expect(described.columns).toEqual([
      'id bigint not null identity always',
      "code text not null default 'acct'::text",
      'owner_id integer',
      'email text not null',
      "opened date not null default '2020-01-01'::date",
      'balance numeric(12,2) default 0',
      'doubled numeric generated (balance * (2)::numeric)',
    ]);
    expect(described.constraints).toHaveLength(4);
    expect(described.incoming).toHaveLength(2);
    expect(described.indexes).toHaveLength(4);
    expect(described.views).toHaveLength(2);
    expect(described.grants).toEqual(['crm_reader SELECT']);
    await sql(stack.conn, 'DROP TABLE crm.accounts CASCADE');
    expect((await describeAccounts(stack.conn).catch((error: Error) => error.message))).toMatch(/relation "crm.accounts" does not exist/);

    const report = await recreate();

    expect(report.skipped).toEqual([]);
    expect(report.tables).toEqual([{ table: '"crm"."accounts"', into: '"crm"."accounts"', rowsBefore: null, rowsAfter: 40, rowsRestored: 40, sequences: [{ sequence: 'crm.accounts_id_seq', from: '40', to: '100' }] }]);
    expect(report.recreated).toEqual(expect.arrayContaining([
      'TABLE crm accounts', 'SEQUENCE crm accounts_id_seq', 'TABLE DATA crm accounts', 'SEQUENCE SET crm accounts_id_seq', 'CONSTRAINT crm accounts accounts_pkey',
      'INDEX crm accounts_opened_idx', 'TRIGGER crm accounts accounts_touch', 'FK CONSTRAINT crm accounts accounts_owner_id_fkey',
      'FK CONSTRAINT crm payments payments_account_id_fkey', 'FK CONSTRAINT crm notes notes_account_ref_fkey', 'VIEW crm rich_accounts', 'VIEW crm account_owners',
      'COMMENT crm TABLE accounts', 'COMMENT crm COLUMN accounts.code', 'INDEX crm accounts_lower_email', 'CONSTRAINT crm accounts accounts_email_key',
    ]));
    // Backups are taken without grants (pg_dump --no-acl): the only thing not back, and the report says so.
    expect(await describeAccounts(stack.conn)).toEqual({ ...described, grants: [] });
    expect(report.warnings).toEqual([expect.stringContaining('the backups hold no owners or grants')]);
    expect(await state()).toEqual(original);
    // The identity goes on past the restored rows, not from the backup's sequence value (40).
    const [next] = await sql(stack.conn, "INSERT INTO crm.accounts (email) VALUES ('new@example.com') RETURNING id");
    expect(next?.id).toBe('101');
    // The keys hold again: a payment of an account that does not exist is refused.
    await expect(sql(stack.conn, 'INSERT INTO crm.payments (account_id, amount) VALUES (999, 1)')).rejects.toThrow(/violates foreign key constraint "payments_account_id_fkey"/);
    expect(stack.log.lines).toContainEqual(expect.objectContaining({ level: 'INFO', message: 'table restored', attributes: expect.objectContaining({ table: '"crm"."accounts"', mode: 'recreate', rowsAfter: 40 }) }));
  });

  it('says what it could not recreate, and why: a view and a key on a table dropped since, a key from a table whose column changed', async () => {
    await sql(stack.conn, `DROP TABLE crm.accounts CASCADE;
      DROP TABLE crm.owners;
      ALTER TABLE crm.notes ALTER COLUMN account_ref TYPE text`);

    const report = await recreate();

    expect(report.skipped?.map((s) => [s.object, s.reason])).toEqual([
      ['VIEW crm account_owners', 'relation "crm.owners" does not exist'],
      ['FK CONSTRAINT crm accounts accounts_owner_id_fkey', 'relation "crm.owners" does not exist'],
      ['FK CONSTRAINT crm notes notes_account_ref_fkey', 'foreign key constraint "notes_account_ref_fkey" cannot be implemented (Key columns "account_ref" and "id" are of incompatible types: text and bigint.)'],
    ]);
    expect(report.skipped?.[2]?.sql).toBe('ALTER TABLE ONLY crm.notes\n    ADD CONSTRAINT notes_account_ref_fkey FOREIGN KEY (account_ref) REFERENCES crm.accounts(id);');
    expect(report.recreated).toEqual(expect.arrayContaining(['VIEW crm rich_accounts', 'FK CONSTRAINT crm payments payments_account_id_fkey', 'CONSTRAINT crm accounts accounts_email_key']));
    const now = await describeAccounts(stack.conn);
    expect(now.columns).toEqual(described.columns);
    expect(now.indexes).toEqual(described.indexes);
    expect(now.constraints).toEqual(described.constraints.filter((c) => !c.startsWith('accounts_owner_id_fkey')));
    expect(now.incoming).toEqual(described.incoming.filter((c) => c.startsWith('crm.payments')));
    expect((await state()).rows['crm.accounts']).toBe(original.rows['crm.accounts']);
    expect(stack.log.lines).toContainEqual(expect.objectContaining({ level: 'WARN', message: 'object not recreated', attributes: expect.objectContaining({ object: 'VIEW crm account_owners' }) }));
  });

  it('all or nothing: an object of the table itself that cannot be recreated rolls everything back', async () => {
    await sql(stack.conn, 'DROP TABLE crm.accounts CASCADE; CREATE INDEX accounts_opened_idx ON crm.payments (amount)');
    const before = await state();

    const error = await failure(recreate());

    expect(error).toMatchObject({ code: 'RESTORE_TABLE_REFUSED', message: 'INDEX crm accounts_opened_idx cannot be recreated: relation "accounts_opened_idx" already exists' });
    expect(error.hint).toMatch(/nothing was changed \(rolled back\).*The tables of "app" were left as they were \(the scratch database "strongbox_scratch_\d{14}_[0-9a-f]{8}" is dropped\)/s);
    expect(await state()).toEqual(before);
    expect((await databaseNames(stack.conn)).filter((n) => n.startsWith('strongbox_scratch_'))).toEqual([]);
  });

  it('refuses a table that exists, before any scratch database, pointing at replace and side-by-side', async () => {
    const names = await databaseNames(stack.conn);

    const error = await failure(recreate());

    expect(error).toMatchObject({ code: 'RESTORE_TABLE_REFUSED', message: '"crm"."accounts" exists in "app": --mode recreate only brings back a dropped table' });
    expect(error.hint).toContain('use --mode replace');
    expect(error.hint).toContain('--mode side-by-side');
    expect(await databaseNames(stack.conn)).toEqual(names);
    expect(await state()).toEqual(original);
  });

  it('a dropped partition comes back attached, its key and index matched to the parent\'s', async () => {
    await sql(stack.conn, 'DROP TABLE public.events_2024_01');

    const report = await recreate({ table: 'public.events_2024_01' });

    expect(report.skipped).toEqual([]);
    expect(report.recreated?.slice(-3)).toEqual(['TABLE ATTACH public events_2024_01', 'INDEX ATTACH public events_2024_01_kind_idx', 'INDEX ATTACH public events_2024_01_pkey']);
    expect(await state()).toEqual(original);
    const attached = await sql(stack.conn, "SELECT indexrelid::regclass::text AS index, (SELECT inhparent::regclass::text FROM pg_inherits WHERE inhrelid = indexrelid) AS parent FROM pg_index WHERE indrelid = 'public.events_2024_01'::regclass ORDER BY 1");
    expect(attached).toEqual([{ index: 'events_2024_01_kind_idx', parent: 'events_kind_idx' }, { index: 'events_2024_01_pkey', parent: 'events_pkey' }]);
  });

  it('the dry run lists the objects it would recreate, from the dump, without connecting to the target', async () => {
    const preview = await previewRecreate(deps, { backupId: 'latest', database: 'app', target: { ...stack.conn, port: 1 }, table: 'crm.accounts', mode: 'recreate', force: false });

    expect(preview.plan.steps.join('\n')).toContain('the table\'s own objects must all succeed');
    expect(preview.objects).toContainEqual({ object: 'TABLE crm accounts', required: true });
    expect(preview.objects).toContainEqual({ object: 'CONSTRAINT crm accounts accounts_pkey', required: true });
    expect(preview.objects).toContainEqual({ object: 'FK CONSTRAINT crm notes notes_account_ref_fkey', required: false });
    expect(preview.objects).toContainEqual({ object: 'VIEW crm rich_accounts', required: false });
    expect(preview.objects.map((o) => o.object)).not.toContain('TABLE crm payments');
  });
});
