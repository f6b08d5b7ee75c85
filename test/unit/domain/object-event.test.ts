import { describe, expect, it } from 'vitest';
import { decodeEventKey, encodeEventKey, objectCreatedEvent, parseObjectCreatedEvent } from '../../../shared/domain/object-event';

describe('S3 ObjectCreated events', () => {
  const time = new Date('2026-11-24T03:00:05Z');

  it('builds AWS-shaped records with keys encoded as S3 does, and parses them back', () => {
    const event = objectCreatedEvent({ bucket: 'b', key: 'logical/daily/my db/x+y/manifest.json', size: 12, time });
    const record = event.Records[0] as { s3: { object: { key: string } }; eventSource: string; eventName: string };
    expect(record.eventSource).toBe('aws:s3');
    expect(record.eventName).toBe('ObjectCreated:Put');
    expect(record.s3.object.key).toBe('logical/daily/my+db/x%2By/manifest.json');
    expect(parseObjectCreatedEvent(event)).toEqual([{ bucket: 'b', key: 'logical/daily/my db/x+y/manifest.json', size: 12, eventName: 'ObjectCreated:Put' }]);
  });

  it('unwraps S3 events delivered through SNS, and skips S3 test events', () => {
    const inner = objectCreatedEvent({ bucket: 'b', key: 'a/manifest.json', size: 1, time });
    const sns = {
      Records: [
        { EventSource: 'aws:sns', Sns: { Message: JSON.stringify(inner) } },
        { EventSource: 'aws:sns', Sns: { Message: JSON.stringify({ Event: 's3:TestEvent', Bucket: 'b' }) } },
      ],
    };
    expect(parseObjectCreatedEvent(sns).map((o) => o.key)).toEqual(['a/manifest.json']);
  });

  it('ignores other S3 event types', () => {
    const event = objectCreatedEvent({ bucket: 'b', key: 'k', size: 1, time });
    (event.Records[0] as { eventName: string }).eventName = 'ObjectRemoved:Delete';
    expect(parseObjectCreatedEvent(event)).toEqual([]);
  });

  it.each([[null], [{}], [{ Records: [{ foo: 1 }] }], ['garbage'], [{ Records: [{ EventSource: 'aws:sns', Sns: { Message: '{' } }] }]])(
    'refuses %j with INPUT_INVALID',
    (event) => {
      expect(() => parseObjectCreatedEvent(event)).toThrowError(expect.objectContaining({ code: 'INPUT_INVALID' }));
    },
  );

  it('encodes and decodes keys symmetrically', () => {
    for (const key of ['a/b c/d', 'ü/ñ', 'a+b', '100%']) expect(decodeEventKey(encodeEventKey(key))).toBe(key);
  });
});
