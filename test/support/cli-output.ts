import { printFailure, type Output } from '../../shared/cli/output';

/** An Output that keeps what a command writes (no terminal: no progress, no prompts). */
export function output(json = false): Output & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { json, interactive: false, out, err, stdout: (text) => void out.push(text), stderr: (text) => void err.push(text) };
}

/** What `run` in main.ts does: the action's exit code, or printFailure's. */
export async function run(action: (out: Output) => Promise<number>, out: Output): Promise<number> {
  try {
    return await action(out);
  } catch (error) {
    return printFailure(out, error);
  }
}
