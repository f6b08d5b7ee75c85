/**
 * The Node.js version README promises (issue 13, item 10): `npm ci` on that version must not
 * warn about a package the README does not explain. Reads package.json, package-lock.json and
 * README.md; `satisfies` covers the range forms package-lock holds (||, >=, >, <=, <, ^, ~, x).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const readJson = (file: string) => JSON.parse(readFileSync(path.join(ROOT, file), 'utf8'));

type Version = [number, number, number];

function parse(text: string): { version: Version; parts: number } {
  const numbers = text.replace(/^v/, '').split('.').filter((p) => p !== '' && p !== 'x' && p !== '*').map(Number);
  return { version: [numbers[0] ?? 0, numbers[1] ?? 0, numbers[2] ?? 0], parts: numbers.length };
}

function compare(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** Whether `version` satisfies the npm range `range` (the subset engines fields use). */
function satisfies(version: Version, range: string): boolean {
  return range.split('||').some((alternative) =>
    alternative
      .replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .every((comparator) => {
        const [, op = '', rest = ''] = /^(>=|<=|>|<|=|\^|~)?\s*(.*)$/.exec(comparator)!;
        const { version: bound, parts } = parse(rest);
        if (parts === 0) return true; // *, x
        const c = compare(version, bound);
        const upper = (level: number): Version => (level === 0 ? [bound[0] + 1, 0, 0] : [bound[0], bound[1] + 1, 0]);
        switch (op) {
          case '>=': return c >= 0;
          case '>': return c > 0;
          case '<=': return c <= 0;
          case '<': return c < 0;
          case '^': return c >= 0 && compare(version, upper(bound[0] === 0 && parts > 1 ? 1 : 0)) < 0;
          case '~': return c >= 0 && compare(version, upper(parts > 1 ? 1 : 0)) < 0;
          default: return parts === 3 ? c === 0 : c >= 0 && compare(version, upper(parts === 1 ? 0 : 1)) < 0;
        }
      }),
  );
}

describe('the Node.js version README promises', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const promised = /Node\.js ≥ (\d+\.\d+)/.exec(readme)?.[1];
  const minimum = parse(promised ?? '0').version;

  it('is the one package.json declares', () => {
    expect(promised).toBeDefined();
    expect(readJson('package.json').engines.node).toBe(`>=${promised}`);
  });

  it('every locked package that wants a newer Node is named in README, with the reason (and no other)', () => {
    const lock = readJson('package-lock.json') as { packages: Record<string, { engines?: { node?: string } | string[] }> };
    const wantNewer = Object.entries(lock.packages)
      .filter(([, entry]) => entry.engines && !Array.isArray(entry.engines) && entry.engines.node && !satisfies(minimum, entry.engines.node))
      .map(([key]) => key.replace(/^.*node_modules\//, ''))
      .sort();
    const explained = [...readme.matchAll(/`([@\w./-]+)` \(dev-only, declares Node ≥ 22\)/g)].map((m) => m[1]!).sort();

    expect(explained).toEqual(wantNewer);
  });

  it('satisfies reads the ranges as npm does', () => {
    const v = (text: string) => parse(text).version;
    expect(satisfies(v('20.19.0'), '>=22')).toBe(false);
    expect(satisfies(v('20.19.0'), '^20.19.0 || ^22.13.0 || >=24')).toBe(true);
    expect(satisfies(v('20.19.0'), '18 || 20 || >=22')).toBe(true);
    expect(satisfies(v('20.19.0'), '^20.17.0 || >=22.9.0')).toBe(true);
    expect(satisfies(v('20.19.0'), '^20.20.0 || >=22.9.0')).toBe(false);
    expect(satisfies(v('20.19.0'), '>=12.22')).toBe(true);
    expect(satisfies(v('20.19.0'), '~20.18.0')).toBe(false);
    expect(satisfies(v('20.19.0'), '>= 14.17.0 < 21')).toBe(true);
    expect(satisfies(v('20.19.0'), '>=16 || 14 >=14.17')).toBe(true);
    expect(satisfies(v('20.19.0'), '6.* || 8.* || >= 10.*')).toBe(true);
    expect(satisfies(v('20.19.0'), '*')).toBe(true);
    expect(satisfies(v('20.19.0'), '>=20.19')).toBe(true);
    expect(satisfies(v('20.19.0'), '>=20.20')).toBe(false);
  });
});
