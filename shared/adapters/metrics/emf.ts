import { Metrics as PowertoolsMetrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, METRIC_UNITS, type MetricName, type Metrics } from '../../metrics';
import type { Log } from '../../ports';

const UNITS: Record<(typeof METRIC_UNITS)[MetricName], (typeof MetricUnit)[keyof typeof MetricUnit]> = {
  Bytes: MetricUnit.Bytes,
  Seconds: MetricUnit.Seconds,
  Count: MetricUnit.Count,
};

/**
 * Metrics as CloudWatch Embedded Metric Format through Powertools: each `record` is
 * published at once as its own EMF line on stdout (namespace `Strongbox`, dimension
 * `service` = POWERTOOLS_SERVICE_NAME), with the database and other context as
 * properties. Lambda's log agent turns the line into the metric; nothing is called.
 */
export class EmfMetrics implements Metrics {
  private readonly metrics: PowertoolsMetrics;

  constructor(
    private readonly log: Log,
    options: { serviceName?: string } = {},
  ) {
    this.metrics = new PowertoolsMetrics({
      namespace: METRICS_NAMESPACE,
      serviceName: options.serviceName ?? process.env.POWERTOOLS_SERVICE_NAME ?? 'strongbox',
      logger: { debug: () => undefined, info: () => undefined, warn: (message: string) => log.warn('metrics', { problem: message }), error: (message: string) => log.error('metrics', { problem: message }) },
    });
  }

  record(name: MetricName, value: number, context: Record<string, string | number | undefined> = {}): void {
    try {
      if (!Number.isFinite(value)) {
        this.log.warn('metric value dropped: not a finite number', { metric: name, value: String(value) });
        return;
      }
      this.metrics.addMetric(name, UNITS[METRIC_UNITS[name]], value);
      for (const [key, item] of Object.entries(context)) if (item !== undefined) this.metrics.addMetadata(key, String(item));
      this.metrics.publishStoredMetrics();
    } catch (error) {
      this.log.warn('metric not published', { metric: name, error: (error as Error).message });
    }
  }

  flush(): void {
    // Every record is published at once: nothing is held back.
  }
}
