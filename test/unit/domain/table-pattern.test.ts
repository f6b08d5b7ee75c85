import { describe, it, expect } from 'vitest';
import { exactTablePattern, parseTablePattern, quoteIdent, quoteTable } from '../../../shared/domain/table-pattern';
import { InputError } from '../../../shared/errors';

describe('parseTablePattern', () => {
  const cases: Array<[string, ReturnType<typeof parseTablePattern>]> = [
    ['orders', { name: '^(orders)$' }],
    ['Orders', { name: '^(orders)$' }],
    ['"Orders"', { name: '^(Orders)$' }],
    ['public.orders', { schema: '^(public)$', name: '^(orders)$' }],
    ['"Sales".*', { schema: '^(Sales)$', name: '^(.*)$' }],
    ['Sales.*', { schema: '^(sales)$', name: '^(.*)$' }],
    ['"Sales"."Order Lines"', { schema: '^(Sales)$', name: '^(Order Lines)$' }],
    ['order?', { name: '^(order.)$' }],
    ['ev*_2024_0?', { name: '^(ev.*_2024_0.)$' }],
    ['"a.b"', { name: '^(a\\.b)$' }],
    ['"a*b?"', { name: '^(a\\*b\\?)$' }],
    ['"say ""hi"""', { name: '^(say "hi")$' }],
    ['a"B"c', { name: '^(aBc)$' }],
    ['price$', { name: '^(price\\$)$' }],
    ['a+b(c)[d]{e}|f^g\\h', { name: '^(a\\+b\\(c\\)\\[d\\]\\{e\\}\\|f\\^g\\\\h)$' }],
    ['shop.public.orders', { database: 'shop', schema: '^(public)$', name: '^(orders)$' }],
    ['"Shop".public.orders', { database: 'Shop', schema: '^(public)$', name: '^(orders)$' }],
    ['ÉTÉ', { name: '^(ÉtÉ)$' }],
  ];
  it.each(cases)('parses %s', (pattern, expected) => {
    // Act
    const parsed = parseTablePattern(pattern);
    // Assess
    expect(parsed).toEqual(expected);
  });

  const matching: Array<[string, string, boolean]> = [
    ['ev*', 'events_2024_01', true],
    ['ev*', 'xevents', false],
    ['order?', 'orders', true],
    ['order?', 'order', false],
    ['"a.b"', 'aXb', false],
    ['"a.b"', 'a.b', true],
  ];
  it.each(matching)('%s against %s: %s', (pattern, name, expected) => {
    // Prepare: PostgreSQL's ARE agrees with JavaScript on this subset.
    const regex = new RegExp(parseTablePattern(pattern).name);
    // Act
    const matched = regex.test(name);
    // Assess
    expect(matched).toBe(expected);
  });

  const invalid: Array<[string, RegExp]> = [
    ['', /empty/],
    ['   ', /empty/],
    ['"unterminated', /unterminated double quote/],
    ['a.b.c.d', /too many dotted names/],
    ['public.', /empty name part/],
    ['.orders', /empty name part/],
    ['db..orders', /empty name part/],
  ];
  it.each(invalid)('refuses %j', (pattern, message) => {
    // Act
    const act = () => parseTablePattern(pattern);
    // Assess
    expect(act).toThrow(InputError);
    expect(act).toThrow(message);
  });

  it('gives a hint with an example', () => {
    // Act
    let caught: unknown;
    try {
      parseTablePattern('"x');
    } catch (error) {
      caught = error;
    }
    // Assess
    expect((caught as InputError).hint).toContain('"Sales".*');
  });
});

describe('quoting', () => {
  it.each([
    ['orders', '"orders"'],
    ['Order "Lines"', '"Order ""Lines"""'],
  ])('quoteIdent(%j)', (name, expected) => {
    // Act / Assess
    expect(quoteIdent(name)).toBe(expected);
  });

  it('exactTablePattern parses back to exactly that table', () => {
    // Prepare
    const table = { schema: 'Sales', name: 'a.b*"c' };
    // Act
    const parsed = parseTablePattern(exactTablePattern(table));
    // Assess
    expect(quoteTable(table)).toBe('"Sales"."a.b*""c"');
    expect(parsed).toEqual({ schema: '^(Sales)$', name: '^(a\\.b\\*"c)$' });
    expect(new RegExp(parsed.name).test('a.b*"c')).toBe(true);
    expect(new RegExp(parsed.name).test('aXb*"c')).toBe(false);
  });
});
