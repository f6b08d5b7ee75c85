import { vi } from 'vitest';

/** Every line Powertools writes to stdout while `act` runs, parsed. */
export function captureEmf(act: () => void): Array<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any -- EMF is untyped JSON
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    act();
  } finally {
    spy.mockRestore();
  }
  return lines.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

/** The EMF lines (JSON with `_aws`) written to stdout while the async `act` runs. */
export async function captureEmfAsync(act: () => Promise<unknown>): Promise<Array<Record<string, any>>> { // eslint-disable-line @typescript-eslint/no-explicit-any -- EMF is untyped JSON
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    await act();
  } finally {
    spy.mockRestore();
  }
  return lines
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes('"_aws"'))
    .map((line) => JSON.parse(line));
}
