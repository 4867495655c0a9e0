/**
 * Key paths as users write them (`cameras[0].fps`, `cameras.0.fps`, `mqtt.url`) and the
 * get/set of a value at such a path in a plain JSON object. Used by `--set` and `set-config`,
 * the latter arriving over MQTT, so a path can never reach an object's prototype.
 */
import { isPlainObject, keyName } from './checks.js';
import { schemaLeaves } from './schema.js';

/** One step of a key path: an object key or an array index. */
export type PathSegment = string | number;

// Assigning through any of these from untrusted input is the classic prototype pollution.
const FORBIDDEN = new Set(['__proto__', 'prototype', 'constructor']);

/** Parses `cameras[0].fps` or `cameras.0.fps` into segments; null when malformed. */
export function parseKeyPath(path: string): PathSegment[] | null {
  if (path === '' || path.length > 256) return null;
  const out: PathSegment[] = [];
  for (const part of path.split('.')) {
    const m = /^([^[\]]*)((?:\[\d{1,4}\])*)$/.exec(part);
    if (!m) return null;
    const name = m[1]!;
    const indexes = [...m[2]!.matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]));
    if (name === '' && (indexes.length === 0 || out.length === 0)) return null;
    if (name !== '') {
      if (FORBIDDEN.has(name)) return null;
      out.push(/^\d{1,4}$/.test(name) && out.length > 0 ? Number(name) : name);
    }
    out.push(...indexes);
  }
  return typeof out[0] === 'string' ? out : null;
}

/**
 * Checks a parsed path names something in the schema: a whole section (`mqtt`), a key
 * (`mqtt.url`), or a place inside a list key (`cameras[0].fps`, whose inner keys the cameras
 * check judges). Returns the problem line, or null when the path is known.
 */
export function unknownPathProblem(path: PathSegment[]): string | null {
  const leaves = schemaLeaves();
  let dotted = '';
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    if (typeof seg === 'number') break;
    dotted = dotted === '' ? seg : `${dotted}.${seg}`;
    const leaf = leaves.get(dotted);
    if (leaf) {
      const rest = path.slice(i + 1);
      // Only list-valued keys have anything inside them to address.
      const isList = Array.isArray(leaf.default) || leaf.key === 'encoder.prefer';
      if (rest.length === 0 || (isList && typeof rest[0] === 'number')) {
        return null;
      }
      return `${keyName(path)} is not a known key: ${dotted} has no parts to set`;
    }
    const isSection = [...leaves.keys()].some((k) => k.startsWith(`${dotted}.`));
    if (!isSection) return `${keyName(path)} is not a known key; known keys: ${knownKeysHint(dotted)}`;
  }
  return path.every((s) => typeof s === 'string') ? null : `${keyName(path)} is not a known key`;
}

function knownKeysHint(dotted: string): string {
  const parent = dotted.includes('.') ? dotted.slice(0, dotted.lastIndexOf('.') + 1) : '';
  const names = new Set<string>();
  for (const k of schemaLeaves().keys()) {
    if (k.startsWith(parent)) names.add(k.slice(parent.length).split('.')[0]!);
  }
  return [...names].map((n) => parent + n).join(', ');
}

/** Reads the value at `path`, undefined when any step is missing. */
export function getPath(root: unknown, path: readonly PathSegment[]): unknown {
  let node = root;
  for (const seg of path) {
    if (typeof seg === 'number' ? !Array.isArray(node) : !isPlainObject(node)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(node, seg)) return undefined;
    node = (node as Record<string | number, unknown>)[seg];
  }
  return node;
}

/**
 * Sets `value` at `path` inside `root` (mutating it), creating missing objects on the way. An
 * index may address an existing element or append one past the end; anything else, or a step
 * through a value that is not an object or list, is returned as a problem line.
 */
export function setPath(root: Record<string, unknown>, path: readonly PathSegment[], value: unknown): string | null {
  let node: unknown = root;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    const here = keyName(path.slice(0, i + 1));
    if (typeof seg === 'number') {
      if (!Array.isArray(node)) return `${here} cannot be set: ${keyName(path.slice(0, i))} is not a list`;
      if (seg > node.length)
        return `${here} cannot be set: the list has ${node.length} item(s), so the next index is ${node.length}`;
    } else if (!isPlainObject(node)) {
      return `${here} cannot be set: ${keyName(path.slice(0, i))} is not an object`;
    }
    const container = node as Record<string | number, unknown>;
    if (last) {
      container[seg] = value;
      return null;
    }
    if (container[seg] === undefined || container[seg] === null) container[seg] = {};
    node = container[seg];
  }
  return null;
}

/**
 * Turns text from an environment variable or `--set` into a value: JSON when it parses
 * (numbers, true/false, null, lists, objects), else the text itself. For `string` keys the
 * text is kept as written unless it is a quoted JSON string or, for keys that may be unset,
 * `null`: a device id of 0042 must not become the number 42.
 */
export function parseValueText(textValue: string, kind: 'string' | 'json', nullable: boolean): unknown {
  const trimmed = textValue.trim();
  if (kind === 'string') {
    if (nullable && trimmed === 'null') return null;
    if (trimmed.startsWith('"')) {
      try {
        return JSON.parse(trimmed) as unknown;
      } catch {
        return textValue;
      }
    }
    return textValue;
  }
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    return textValue;
  }
}
