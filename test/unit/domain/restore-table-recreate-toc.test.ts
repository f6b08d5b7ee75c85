import { describe, expect, it } from 'vitest';
import { splitScript } from '../../../shared/usecases/restore-table/recreate';
import { selectRecreate } from '../../../shared/usecases/restore-table/recreate-toc';
import { parseToc, selectTables } from '../../../shared/usecases/restore-table/toc';

// `pg_restore --list --verbose` of a small database, as PostgreSQL 15 prints it: accounts (serial,
// comments, a trigger) referenced by payments, referencing customers; two views on it.
const LISTING = `;
; Archive created at 2026-12-04 21:50:32 UTC
;
3384; 0 0 ENCODING - ENCODING 
221; 1255 16433 FUNCTION public trg() postgres
217; 1259 16397 TABLE public accounts postgres
3388; 0 0 COMMENT public TABLE accounts postgres
;	depends on: 217
3389; 0 0 COMMENT public COLUMN accounts.code postgres
;	depends on: 217
215; 1259 16386 TABLE public customers postgres
219; 1259 16425 VIEW public account_view postgres
;	depends on: 215 217 217 215
216; 1259 16396 SEQUENCE public accounts_id_seq postgres
;	depends on: 217
3391; 0 0 SEQUENCE OWNED BY public accounts_id_seq postgres
;	depends on: 216
214; 1259 16385 SEQUENCE public customers_id_seq postgres
;	depends on: 215
218; 1259 16415 TABLE public payments postgres
222; 1259 16500 TABLE public accounts_archive postgres
;	depends on: 217
220; 1259 16429 VIEW public v2 postgres
;	depends on: 219 219
3393; 0 0 COMMENT public VIEW v2 postgres
;	depends on: 220
3216; 2604 16400 DEFAULT public accounts id postgres
;	depends on: 216 217 217
3380; 0 16397 TABLE DATA public accounts postgres
;	depends on: 217
3378; 0 16386 TABLE DATA public customers postgres
;	depends on: 215
3381; 0 16415 TABLE DATA public payments postgres
;	depends on: 218
3382; 0 16500 TABLE DATA public accounts_archive postgres
;	depends on: 222
3392; 0 0 SEQUENCE SET public accounts_id_seq postgres
;	depends on: 216
3227; 2606 16407 CONSTRAINT public accounts accounts_pkey postgres
;	depends on: 217
3223; 2606 16393 CONSTRAINT public customers customers_pkey postgres
;	depends on: 215
3224; 1259 16413 INDEX public accounts_code_idx postgres
;	depends on: 217 217
3232; 2620 16434 TRIGGER public accounts t1 postgres
;	depends on: 217 221
3230; 2606 16408 FK CONSTRAINT public accounts accounts_customer_id_fkey postgres
;	depends on: 217 215 3223
3231; 2606 16420 FK CONSTRAINT public payments payments_account_id_fkey postgres
;	depends on: 218 3227 217
`;

describe('selectRecreate', () => {
  const toc = parseToc(LISTING);
  const { found } = selectTables(toc, [{ schema: 'public', name: 'accounts' }]);
  const chosen = selectRecreate(toc, found);
  const byLabel = new Map(chosen.map((e) => [e.label, e]));

  it('chooses the table and everything hanging on it, in the archive\'s order; never another table or its rows', () => {
    expect(chosen.map((e) => e.label)).toEqual([
      'TABLE public accounts',
      'COMMENT public TABLE accounts',
      'COMMENT public COLUMN accounts.code',
      'VIEW public account_view',
      'SEQUENCE public accounts_id_seq',
      'SEQUENCE OWNED BY public accounts_id_seq',
      'VIEW public v2',
      'COMMENT public VIEW v2',
      'DEFAULT public accounts id',
      'TABLE DATA public accounts',
      'SEQUENCE SET public accounts_id_seq',
      'CONSTRAINT public accounts accounts_pkey',
      'INDEX public accounts_code_idx',
      'TRIGGER public accounts t1',
      'FK CONSTRAINT public accounts accounts_customer_id_fkey',
      'FK CONSTRAINT public payments payments_account_id_fkey',
    ]);
  });

  it.each([
    ['TABLE public accounts', true, []],
    ['SEQUENCE OWNED BY public accounts_id_seq', true, [216]],
    ['DEFAULT public accounts id', true, [216, 217]],
    ['CONSTRAINT public accounts accounts_pkey', true, [217]],
    ['INDEX public accounts_code_idx', true, [217]],
    // Tied to the rest of the database: tried, skipped with the reason when it does not fit.
    ['VIEW public account_view', false, [217]],
    ['COMMENT public VIEW v2', false, [220]],
    ['TRIGGER public accounts t1', false, [217]],
    ['FK CONSTRAINT public accounts accounts_customer_id_fkey', false, [217]],
    ['FK CONSTRAINT public payments payments_account_id_fkey', false, [3227, 217]],
  ])('%s: required %s, after %j', (label, required, after) => {
    expect(byLabel.get(label)).toMatchObject({ required, after });
  });

  it('marks the rows of the table, which come from the scratch database', () => {
    expect(byLabel.get('TABLE DATA public accounts')).toMatchObject({ desc: 'TABLE DATA', required: true, rows: { schema: 'public', name: 'accounts' } });
    expect(chosen.filter((e) => e.rows)).toHaveLength(1);
  });
});

describe('splitScript', () => {
  const script = `--
-- PostgreSQL database dump
--

\\restrict pm05NWGhDwoBKmyI7SwOMTUNeydKpSxOJAo2JwzUKUe3w7CjkRDhlA5VAg6Y9rd

SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SELECT pg_catalog.set_config('search_path', '', false);

--
-- Name: accounts id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.accounts ALTER COLUMN id SET DEFAULT nextval('public.accounts_id_seq'::regclass);


--
-- PostgreSQL database dump complete
--

\\unrestrict pm05NWGhDwoBKmyI7SwOMTUNeydKpSxOJAo2JwzUKUe3w7CjkRDhlA5VAg6Y9rd

`;

  it('drops psql\'s \\restrict lines and the client encoding, keeps the session settings, and names the statements alone', () => {
    const { sql, statements } = splitScript(script);

    expect(sql).not.toMatch(/restrict|client_encoding/);
    expect(sql).toContain("SELECT pg_catalog.set_config('search_path', '', false);");
    expect(statements).toBe("ALTER TABLE ONLY public.accounts ALTER COLUMN id SET DEFAULT nextval('public.accounts_id_seq'::regclass);");
  });
});
