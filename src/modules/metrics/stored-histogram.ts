import { Histogram, type Registry } from 'prom-client';

/** One label set of a histogram whose buckets were counted elsewhere (e.g. in SQL). */
export interface StoredHistogramSeries<L extends string> {
  labels: Record<L, string>;
  /** Counts per bucket, NOT cumulative: one per bound, then one for "above the last bound". */
  bucketCounts: readonly number[];
  sum: number;
}

export interface StoredHistogramOptions<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  /** Ascending upper bounds (without +Inf). */
  buckets: readonly number[];
  registers: Registry[];
  /** Called at every scrape; returns the current series. */
  read: () => StoredHistogramSeries<L>[];
}

interface HistogramSample<L extends string> {
  metricName: string;
  labels: { le?: number | string };
  sharedLabels: Record<L, string>;
  value: number;
}

/**
 * A prom-client histogram whose buckets, sum and count are read at scrape time from a source that
 * already aggregated them (the database) instead of being observed in this process: a Histogram
 * can only `observe()` one value at a time.
 *
 * prom-client's registry renders a histogram through its `getForPromString()` (and builds the
 * JSON of `get()` from it); this class supplies that method with the same sample shape prom-client
 * produces (`_bucket{le}` cumulative, `+Inf`, `_sum`, `_count`). The metrics integration test
 * checks the rendered text, so a change of that internal method in a prom-client update shows.
 */
export class StoredHistogram<L extends string> extends Histogram<L> {
  private readonly metricName: string;
  private readonly metricHelp: string;
  private readonly bounds: readonly number[];
  private readonly read: () => StoredHistogramSeries<L>[];

  constructor(options: StoredHistogramOptions<L>) {
    super({
      name: options.name,
      help: options.help,
      labelNames: options.labelNames,
      buckets: [...options.buckets],
      registers: options.registers,
    });
    this.metricName = options.name;
    this.metricHelp = options.help;
    this.bounds = [...options.buckets];
    this.read = options.read;
  }

  /** Called by prom-client's registry (and by `get()`) instead of its in-memory buckets. */
  async getForPromString(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: HistogramSample<L>[];
  }> {
    const values = this.read().flatMap((series) => this.samples(series));
    return {
      name: this.metricName,
      help: this.metricHelp,
      type: 'histogram',
      aggregator: 'sum',
      values,
    };
  }

  private samples(series: StoredHistogramSeries<L>): HistogramSample<L>[] {
    const bucketName = `${this.metricName}_bucket`;
    const samples: HistogramSample<L>[] = [];
    let cumulative = 0;
    this.bounds.forEach((bound, index) => {
      cumulative += series.bucketCounts[index] ?? 0;
      samples.push({
        metricName: bucketName,
        labels: { le: bound },
        sharedLabels: series.labels,
        value: cumulative,
      });
    });
    const total = cumulative + (series.bucketCounts[this.bounds.length] ?? 0);
    samples.push(
      { metricName: bucketName, labels: { le: '+Inf' }, sharedLabels: series.labels, value: total },
      {
        metricName: `${this.metricName}_sum`,
        labels: {},
        sharedLabels: series.labels,
        value: series.sum,
      },
      {
        metricName: `${this.metricName}_count`,
        labels: {},
        sharedLabels: series.labels,
        value: total,
      },
    );
    return samples;
  }
}
