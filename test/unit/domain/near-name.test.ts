import { describe, expect, it } from 'vitest';
import { editDistance, nearestName } from '../../../shared/domain/near-name';

describe('editDistance', () => {
  it.each<[string, string, number]>([
    ['shop', 'shop', 0],
    ['shop', 'shpo', 2],
    ['app', 'ap', 1],
    ['app', 'apps', 1],
    ['', 'abc', 3],
    ['kitten', 'sitting', 3],
  ])('%s ↔ %s: %i', (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
    expect(editDistance(b, a)).toBe(distance);
  });
});

describe('nearestName', () => {
  const known = ['app', 'billing', 'demo', 'shop'];
  it.each<[string, string | undefined]>([
    ['shpo', 'shop'], // a transposition: two edits
    ['ap', 'app'],
    ['App', 'app'], // case ignored
    ['biling', 'billing'],
    ['demo', undefined], // known: nothing to suggest
    ['nosuch', undefined], // nothing close
    ['db', undefined], // as many edits as it has letters: not a near match
    ['analytics_prod', undefined],
  ])('%s → %s', (name, expected) => {
    expect(nearestName(name, known)).toBe(expected);
  });

  it('a tie goes to the first name in alphabetical order', () => {
    expect(nearestName('abx', ['aby', 'abz', 'abw'])).toBe('abw');
  });
});
