/**
 * One stderr shared by a progress line (redrawn in place: a text that starts with `\r` and
 * holds no newline) and whole lines (logs, alerts, warnings, prompts). A whole line never
 * lands on the end of a progress line: the progress line is ended first, and shows its last
 * state above it; the next redraw starts a new progress line below.
 */
export interface StderrLines {
  /** Writes `text`: a progress redraw, or anything else (after ending an open progress line). */
  write(text: string): void;
  /** Ends the progress line if one is open (a newline); does nothing otherwise. */
  endProgress(): void;
}

/** True for a progress redraw: `\r…` with no newline. */
export function isProgressRedraw(text: string): boolean {
  return text.startsWith('\r') && !text.includes('\n');
}

/** A StderrLines over `write` (the process's stderr). */
export function stderrLines(write: (text: string) => void): StderrLines {
  let progressOpen = false;
  return {
    write(text) {
      if (text === '') return;
      if (isProgressRedraw(text)) {
        progressOpen = true;
        write(text);
        return;
      }
      if (progressOpen) {
        progressOpen = false;
        // A text that starts a line of its own (e.g. a plain newline ending the progress) needs none.
        if (!text.startsWith('\n')) write('\n');
      }
      write(text);
    },
    endProgress() {
      if (!progressOpen) return;
      progressOpen = false;
      write('\n');
    },
  };
}
