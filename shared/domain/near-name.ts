/**
 * The nearest of some known names to a mistyped one, for "did you mean …?" hints. Pure.
 */

/** Levenshtein distance: insertions, deletions and substitutions of one character each. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The known name closest to `name` (case ignored), if it is a few typing mistakes away: at
 * most 2 edits, or a third of the name's length for long names, and fewer edits than the
 * shorter of the two has characters (so that `db` does not "match" `qa`). Ties go to the
 * first in alphabetical order. Undefined when none is close, or when `name` is known.
 */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  if (known.includes(name)) return undefined;
  const wanted = name.toLowerCase();
  const limit = Math.max(2, Math.floor(wanted.length / 3));
  const scored = known
    .map((candidate) => ({ candidate, distance: editDistance(candidate.toLowerCase(), wanted) }))
    .filter(({ candidate, distance }) => distance <= limit && distance < Math.min(candidate.length, wanted.length))
    .sort((a, b) => a.distance - b.distance || (a.candidate < b.candidate ? -1 : a.candidate > b.candidate ? 1 : 0));
  return scored[0]?.candidate;
}
