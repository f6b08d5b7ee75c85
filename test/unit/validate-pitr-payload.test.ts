import { describe, expect, it } from 'vitest';
import { parseValidatePayload } from '../../shared/domain/invoke/validate';

describe('the physical drill through sls invoke -f validate', () => {
  it('takes {"pitr": true, "to": latest|random|id}; "to" without "pitr" is refused', () => {
    expect(parseValidatePayload({ pitr: true, to: 'random', database: 'app' })).toEqual({ backupId: 'latest', pitr: true, to: 'random', database: 'app' });
    expect(parseValidatePayload({ pitr: true })).toEqual({ backupId: 'latest', pitr: true });
    expect(() => parseValidatePayload({ to: 'random' })).toThrow(/"to" is for the physical drill/);
    expect(() => parseValidatePayload({ pitr: true, to: 'someday' })).toThrow();
  });
});
