import type { MetricName, Metrics } from '../../metrics';
import { METRIC_UNITS } from '../../metrics';
import type { Log } from '../../ports';

/**
 * Local mode's metrics: one INFO line per value through the structured log (`metric`,
 * `value`, `unit`, and the context keys), so that `npm start` shows what CloudWatch
 * would receive.
 */
export function logMetrics(log: Log): Metrics {
  return {
    record(name: MetricName, value: number, context = {}) {
      try {
        log.info('metric', { metric: name, value, unit: METRIC_UNITS[name], ...context });
      } catch {
        // A metric must never fail the work it measures.
      }
    },
    flush() {},
  };
}
