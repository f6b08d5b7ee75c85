import { describe, expect, it } from 'vitest';
import { clientMajorFor, installedMajors, serverMajorFor, SUPPORTED_MAJORS } from '../../../shared/domain/pg-majors';

describe('the PostgreSQL major a task uses', () => {
  it('reads the installed majors from /usr/lib/postgresql folder names, newest first', () => {
    expect(installedMajors(['15', '18', 'lib', '16', '17', '9.6', '18'])).toEqual([18, 17, 16, 15]);
    expect(SUPPORTED_MAJORS).toEqual([15, 16, 17, 18]);
  });

  it('a recovered cluster runs exactly the base backup\'s major, whatever newer ones are installed', () => {
    expect(serverMajorFor(15, [18, 17, 16, 15])).toBe(15);
    expect(serverMajorFor(17, [18, 17])).toBe(17);
  });

  it('a base backup of a major the image lacks: PG_VERSION_MISMATCH naming both, and how to build an image with it', () => {
    expect(() => serverMajorFor(16, [17])).toThrow(expect.objectContaining({
      code: 'PG_VERSION_MISMATCH',
      message: 'the base backup is of PostgreSQL 16, and only the server of 17 is installed here: a cluster recovered from it must run PostgreSQL 16',
      hint: expect.stringContaining('--build-arg PG_MAJORS="15 16 17 18"'),
    }));
    expect(() => serverMajorFor(19, [18, 17])).toThrow(expect.objectContaining({ code: 'PG_VERSION_MISMATCH', hint: expect.stringContaining('PG_MAJORS="15 16 17 18 19"') }));
    expect(() => serverMajorFor(undefined, [15])).toThrow(expect.objectContaining({ code: 'PG_VERSION_MISMATCH', hint: expect.stringContaining('take a new base backup') }));
  });

  it('client tools: the newest installed, never older than the server', () => {
    expect(clientMajorFor(15, [18, 15])).toBe(18);
    expect(clientMajorFor(18, [18])).toBe(18);
    expect(() => clientMajorFor(18, [17, 15])).toThrow(expect.objectContaining({ code: 'PG_VERSION_MISMATCH', message: expect.stringContaining('PostgreSQL 18, newer than the client tools here (17)') }));
    expect(() => clientMajorFor(15, [])).toThrow(expect.objectContaining({ code: 'PG_VERSION_MISMATCH' }));
  });
});
