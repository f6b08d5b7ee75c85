import { describe, expect, it } from 'vitest';
import { parseToc, selectTables } from '../../../shared/usecases/restore-table/toc';

// `pg_restore --list --verbose` of a dump of the sample database (trimmed), as PostgreSQL 15 prints it.
const LISTING = `;
; Archive created at 2026-11-24 07:15:51 UTC
;     dbname: app
;
; Selected TOC Entries:
;
3468; 0 0 ENCODING - ENCODING 
7; 2615 16451 SCHEMA - Billing postgres
6; 2615 16385 SCHEMA - Sales postgres
880; 1247 16454 TYPE Billing InvoiceState postgres
;	depends on: 7
859; 1247 16387 TYPE public order_status postgres
230; 1259 16472 TABLE Billing Invoices postgres
;	depends on: 7 880
229; 1259 16471 SEQUENCE Billing Invoices_id_seq postgres
;	depends on: 230 7
3472; 0 0 SEQUENCE OWNED BY Billing Invoices_id_seq postgres
;	depends on: 229
234; 1259 16499 VIEW Billing Open Invoices postgres
;	depends on: 230 880 7
217; 1259 16395 SEQUENCE Sales invoice_number postgres
;	depends on: 6
221; 1259 16408 TABLE Sales orders postgres
;	depends on: 217 859 6 859
219; 1259 16397 TABLE public customers postgres
223; 1259 16424 TABLE public events postgres
224; 1259 16429 TABLE public events_2024_01 postgres
;	depends on: 223
300; 1259 16600 TABLE public Open Invoices owner with space
301; 1259 16601 TABLE public My Table postgres
3263; 0 0 TABLE ATTACH public events_2024_01 postgres
;	depends on: 224 223
3271; 2604 16475 DEFAULT Billing Invoices id postgres
;	depends on: 229 230 230
3459; 0 16472 TABLE DATA Billing Invoices postgres
;	depends on: 230
3452; 0 16408 TABLE DATA Sales orders postgres
;	depends on: 221
3450; 0 16397 TABLE DATA public customers postgres
3454; 0 16429 TABLE DATA public events_2024_01 postgres
;	depends on: 224
3455; 0 16601 TABLE DATA public My Table postgres
;	depends on: 301
3293; 2606 16479 CONSTRAINT Billing Invoices Invoices_pkey postgres
;	depends on: 230
3301; 2606 16417 FK CONSTRAINT Sales orders orders_customer_id_fkey postgres
;	depends on: 221 219
`;

const ids = (list: string) => list.trim().split('\n').map((line) => Number(line.split(';')[0]));

describe('parseToc', () => {
  it('reads each entry with its dependencies', () => {
    const toc = parseToc(LISTING);
    expect(toc).toHaveLength(25);
    expect(toc.find((e) => e.id === 221)).toEqual({ id: 221, oid: '16408', text: 'TABLE Sales orders postgres', line: '221; 1259 16408 TABLE Sales orders postgres', dependsOn: [217, 859, 6, 859] });
    expect(toc.find((e) => e.id === 3468)?.dependsOn).toEqual([]);
  });
});

describe('selectTables', () => {
  const toc = parseToc(LISTING);

  it.each([
    ['a table with a schema, an enum and a sequence of its default: no foreign key, index or other table', [{ schema: 'Sales', name: 'orders' }], [6, 859, 217, 221, 3452]],
    ['a mixed-case table of a quoted schema: its enum and schema, not its serial, view or constraints', [{ schema: 'Billing', name: 'Invoices' }], [7, 880, 230, 3459]],
    ['a partition: its partitioned parent\'s definition, not its rows', [{ schema: 'public', name: 'events_2024_01' }], [223, 224, 3454]],
    ['a name with a space', [{ schema: 'public', name: 'My Table' }], [301, 3455]],
    ['two tables at once', [{ schema: 'public', name: 'customers' }, { schema: 'Sales', name: 'orders' }], [6, 859, 217, 221, 219, 3452, 3450]],
  ])('%s', (_name, tables, expected) => {
    const selection = selectTables(toc, tables);
    expect(selection.missing).toEqual([]);
    expect(ids(selection.list)).toEqual(expected);
  });

  it('keeps the archive\'s order, whole lines, for pg_restore -L', () => {
    expect(selectTables(toc, [{ schema: 'public', name: 'customers' }]).list).toBe('219; 1259 16397 TABLE public customers postgres\n3450; 0 16397 TABLE DATA public customers postgres\n');
  });

  it('reports tables whose definition or rows are missing, and never mistakes a view for a table; an owner with a space is refused rather than guessed', () => {
    const selection = selectTables(toc, [
      { schema: 'public', name: 'nowhere' },
      { schema: 'public', name: 'events' },
      { schema: 'Billing', name: 'Open' },
      { schema: 'public', name: 'Open Invoices' },
    ]);
    expect(selection.missing).toEqual([
      { schema: 'public', name: 'nowhere', lacks: 'definition' },
      { schema: 'public', name: 'events', lacks: 'rows' },
      { schema: 'Billing', name: 'Open', lacks: 'definition' },
      { schema: 'public', name: 'Open Invoices', lacks: 'definition' },
    ]);
  });
});
