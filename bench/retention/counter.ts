/**
 * Counts what the DynamoDB client reads: requests by command, and items read — what a
 * Query evaluated (`ScannedCount`, the basis of its read capacity, COUNT queries included)
 * and what a GetItem returned.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface ReadCounter {
  requests: Record<string, number>;
  itemsRead: number;
  reset(): void;
  snapshot(): { requests: number; itemsRead: number; scans: number };
}

/** Adds the counting middleware to `client` and returns the counter. */
export function countReads(client: DynamoDBClient): ReadCounter {
  const counter: ReadCounter = {
    requests: {},
    itemsRead: 0,
    reset() {
      counter.requests = {};
      counter.itemsRead = 0;
    },
    snapshot() {
      return { requests: Object.values(counter.requests).reduce((a, b) => a + b, 0), itemsRead: counter.itemsRead, scans: counter.requests.ScanCommand ?? 0 };
    },
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const name = context.commandName ?? 'unknown';
      counter.requests[name] = (counter.requests[name] ?? 0) + 1;
      const output = (result.output ?? {}) as { ScannedCount?: number; Item?: unknown; Responses?: Record<string, unknown[]> };
      if (name === 'QueryCommand' || name === 'ScanCommand') counter.itemsRead += output.ScannedCount ?? 0;
      if (name === 'GetItemCommand' && output.Item) counter.itemsRead += 1;
      return result;
    },
    { step: 'initialize', name: 'strongboxBenchReadCounter' },
  );
  return counter;
}
