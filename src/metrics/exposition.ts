// The Prometheus text format (version 0.0.4) of a prom-client registry, written here rather
// than by registry.metrics(): prom-client merges the default labels into a new object and
// re-escapes them for every sample line, which was the larger half of a scrape's time on the
// event loop once its default collectors were gone (docs/metrics.md, Cost). Here the
// constant labels (cluster, host) are escaped once and appended to every line as one string.
import type client from 'prom-client';

/** What every prom-client metric answers (its typings call the type an enum; it is the type's name). */
export interface Collected {
  name: string;
  help: string;
  type: string;
  values: { value: number; labels: Record<string, string | number | undefined>; metricName?: string }[];
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const escapeText = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (s: string): string => escapeText(s).replace(/"/g, '\\"');

function valueText(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** `name="value"` pairs, comma separated, for labels that every line carries. */
export function labelText(labels: Record<string, string>): string {
  return Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
}

/** Every metric of the registry as its collect functions make it now, in registration order. */
export async function collect(registry: client.Registry): Promise<Collected[]> {
  const out: Collected[] = [];
  for (const metric of registry.getMetricsAsArray()) out.push(await (metric as unknown as { get(): Promise<Collected> }).get());
  return out;
}

/** The text of collected metrics, `constant` (from labelText) added to every sample's labels. */
export function format(collected: readonly Collected[], constant: string): string {
  const out: string[] = [];
  for (const m of collected) {
    out.push(`# HELP ${m.name} ${escapeText(m.help)}\n# TYPE ${m.name} ${m.type}\n`);
    for (const v of m.values) {
      let own = '';
      for (const k in v.labels) {
        const value = v.labels[k];
        if (value !== undefined) own += `${k}="${typeof value === 'number' ? valueText(value) : escapeLabel(value)}",`;
      }
      const labels = constant === '' ? own.slice(0, -1) : own + constant;
      out.push(`${v.metricName ?? m.name}${labels === '' ? '' : `{${labels}}`} ${valueText(v.value)}\n`);
    }
    out.push('\n');
  }
  return out.join('');
}

/** The registry's exposition, `constant` (from labelText) added to every sample's labels. */
export async function exposition(registry: client.Registry, constant: string): Promise<string> {
  return format(await collect(registry), constant);
}
