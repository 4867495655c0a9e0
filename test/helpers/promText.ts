/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), written from the
 * format's specification for the /metrics tests: no parser library is installed here and
 * Debian's promtool comes only with the whole prometheus package. Reading the text back with
 * prom-client would check nothing, so this parser shares no code with it. It throws on the first
 * line that breaks the grammar, naming the line, and checks what the format requires across
 * lines: one TYPE per family and before its samples, families not interleaved, no duplicate
 * series, histograms with cumulative `le` buckets ending in +Inf equal to `_count`.
 */

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One metric family: its TYPE, HELP and samples. */
export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string | null;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
// The values Prometheus reads with Go's strconv.ParseFloat: decimal forms, and NaN and
// [+-]Inf(inity) in any case (prom-client writes NaN as "Nan").
const FLOAT = /^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]?(?:inf|infinity)|nan)$/i;

class ParseError extends Error {}

function parseValue(text: string, where: string): number {
  if (!FLOAT.test(text)) throw new ParseError(`${where}: bad value ${JSON.stringify(text)}`);
  if (/^nan$/i.test(text)) return NaN;
  if (/inf(inity)?$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  return Number(text);
}

/** Reads `{a="x",b="y"}` from the start of `text`; returns the labels and the rest. */
function parseLabels(text: string, where: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1; // past '{'
  for (;;) {
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) };
    const name = LABEL_NAME.exec(text.slice(i))?.[0];
    if (!name) throw new ParseError(`${where}: bad label name at ${JSON.stringify(text.slice(i, i + 20))}`);
    if (name.startsWith('__')) throw new ParseError(`${where}: reserved label name ${name}`);
    if (name in labels) throw new ParseError(`${where}: label ${name} given twice`);
    i += name.length;
    if (text.slice(i, i + 2) !== '="') throw new ParseError(`${where}: expected =" after label ${name}`);
    i += 2;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new ParseError(`${where}: unterminated value of label ${name}`);
      if (c === '"') break;
      if (c === '\\') {
        const next = text[i + 1];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else throw new ParseError(`${where}: bad escape \\${next ?? ''} in label ${name}`);
        i += 2;
      } else {
        value += c;
        i += 1;
      }
    }
    labels[name] = value;
    i += 1;
    if (text[i] === ',') i += 1;
    else if (text[i] !== '}') throw new ParseError(`${where}: expected , or } after label ${name}`);
  }
}

/** The family a sample belongs to: histogram and summary samples carry suffixes. */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  if (families.has(name)) return families.get(name);
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const base = families.get(name.slice(0, -suffix.length));
    if (base && (base.type === 'histogram' || (base.type === 'summary' && suffix !== '_bucket'))) return base;
  }
  return undefined;
}

function checkHistogram(family: Family): void {
  const groups = new Map<string, Sample[]>();
  const key = (labels: Record<string, string>) =>
    JSON.stringify(
      Object.entries(labels)
        .filter(([k]) => k !== 'le')
        .sort(),
    );
  for (const s of family.samples)
    if (s.name.endsWith('_bucket')) groups.set(key(s.labels), [...(groups.get(key(s.labels)) ?? []), s]);
  for (const [labels, buckets] of groups) {
    const les = buckets.map((b) => {
      if (b.labels.le === undefined) throw new ParseError(`${family.name}: a bucket without le`);
      return parseValue(b.labels.le, `${family.name} le`);
    });
    for (let i = 1; i < les.length; i += 1) {
      if (!(les[i]! > les[i - 1]!)) throw new ParseError(`${family.name}${labels}: le not increasing`);
      if (buckets[i]!.value < buckets[i - 1]!.value)
        throw new ParseError(`${family.name}${labels}: buckets not cumulative`);
    }
    if (les.at(-1) !== Infinity) throw new ParseError(`${family.name}${labels}: no +Inf bucket`);
    const count = family.samples.find((s) => s.name === `${family.name}_count` && key(s.labels) === labels);
    if (!count || count.value !== buckets.at(-1)!.value)
      throw new ParseError(`${family.name}${labels}: _count differs from the +Inf bucket`);
    if (!family.samples.some((s) => s.name === `${family.name}_sum` && key(s.labels) === labels))
      throw new ParseError(`${family.name}${labels}: no _sum`);
  }
}

/** Parses an exposition; throws a message naming the line on the first violation. */
export function parsePrometheusText(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith('\n')) throw new ParseError('the exposition must end with a line feed');
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  const series = new Set<string>();
  let current: Family | null = null;
  const open = (family: Family) => {
    if (current && current !== family) closed.add(current.name);
    if (closed.has(family.name)) throw new ParseError(`${family.name}: its lines are not together`);
    current = family;
  };
  text.split('\n').forEach((line, index) => {
    const where = `line ${index + 1} ${JSON.stringify(line.slice(0, 80))}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest = ''] = m as unknown as [string, string, string, string | undefined];
      if (METRIC_NAME.exec(name)?.[0] !== name) throw new ParseError(`${where}: bad metric name`);
      let family = families.get(name);
      if (!family) {
        family = { name, type: 'untyped', help: null, samples: [] };
        families.set(name, family);
      }
      open(family);
      if (kind === 'TYPE') {
        if (!TYPES.has(rest.trim())) throw new ParseError(`${where}: unknown type`);
        if (family.samples.length > 0) throw new ParseError(`${where}: TYPE after samples`);
        if ((family as Family & { typed?: boolean }).typed) throw new ParseError(`${where}: second TYPE`);
        (family as Family & { typed?: boolean }).typed = true;
        family.type = rest.trim() as Family['type'];
      } else {
        if (family.help !== null) throw new ParseError(`${where}: second HELP`);
        if (/\\[^n\\]/.test(rest.replace(/\\\\/g, ''))) throw new ParseError(`${where}: bad escape in HELP`);
        family.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      }
      return;
    }
    const name = METRIC_NAME.exec(line)?.[0];
    if (!name) throw new ParseError(`${where}: bad metric name`);
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, where));
    const parts = rest.trim().split(/\s+/);
    if (!/^[ \t]/.test(rest) || parts.length < 1 || parts.length > 2)
      throw new ParseError(`${where}: expected " value [timestamp]"`);
    const value = parseValue(parts[0]!, where);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new ParseError(`${where}: bad timestamp`);
    let family = familyOf(name, families);
    if (!family) {
      family = { name, type: 'untyped', help: null, samples: [] };
      families.set(name, family);
    }
    open(family);
    const id = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(id)) throw new ParseError(`${where}: duplicate series`);
    series.add(id);
    if (family.type === 'counter' && !(value >= 0)) throw new ParseError(`${where}: a counter below zero`);
    family.samples.push({ name, labels, value });
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

/** The value of one series, or undefined. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const family of families.values()) {
    const found = family.samples.find(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
    if (found) return found.value;
  }
  return undefined;
}
