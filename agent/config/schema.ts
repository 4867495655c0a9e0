/**
 * The one convict schema of the agent: every key of the contract's config block with its doc
 * string, default, format and environment variable. Values are checked by the small functions
 * in checks.ts and cameras.ts so every problem reads "<key> must be <allowed>, got <value>".
 */
import os from 'node:os';
import convict from 'convict';
import type { AgentConfig } from './types.js';
import { ANALYSIS_COST_CHECKS, DEFAULT_CAMERAS, camerasCheck } from './cameras.js';
import {
  type Check,
  absoluteDir,
  bool,
  encoderPrefer,
  hostNames,
  hostPort,
  intRange,
  optionalInt,
  mqttUrl,
  oneOf,
  optionalFile,
  optionalUrl,
  text,
} from './checks.js';

/**
 * How an environment variable or `--set` text becomes a value: `string` keys take the text as
 * is (so EDGE_AGENT_DEVICE_ID=0042 stays "0042"), `json` keys parse it as JSON when it parses.
 */
export type ValueKind = 'string' | 'json';

/** One leaf of the schema, as convict sees it plus what our checks need. */
export interface SchemaLeaf {
  doc: string;
  default: unknown;
  format: typeof CHECK_FORMAT;
  nullable: boolean;
  env: string;
  /** The dotted key path, e.g. `hls.segmentSeconds`. */
  key: string;
  kind: ValueKind;
  check: Check;
}

/**
 * The convict format every leaf uses. A named format (rather than a function) matters: convict
 * coerces strings by the *type of the default* for function formats, so `"30"` in a file would
 * silently pass as 30; a named format without a coercer leaves values as written.
 */
export const CHECK_FORMAT = 'edge-agent-check';

convict.addFormat({
  name: CHECK_FORMAT,
  validate(value: unknown, schema: convict.SchemaObj) {
    const problems = (schema as unknown as SchemaLeaf).check(value, (schema as unknown as SchemaLeaf).key);
    if (problems.length > 0) throw new Error(problems.join('; '));
  },
});

/** `EDGE_AGENT_` + the key path in upper snake case: `hls.segmentSeconds` → EDGE_AGENT_HLS_SEGMENT_SECONDS. */
export function envName(key: string): string {
  return `EDGE_AGENT_${key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/\./g, '_')
    .toUpperCase()}`;
}

// device.id is an MQTT client id and topic level and a directory-safe name: no / + # or spaces.
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The host name made into a valid `device.id` (topic segment); "edge-agent" if nothing is left. */
export function defaultDeviceId(hostname: string = os.hostname()): string {
  const cleaned = hostname
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  return DEVICE_ID.test(cleaned) ? cleaned : 'edge-agent';
}

type LeafSpec = Omit<SchemaLeaf, 'format' | 'env' | 'key' | 'nullable'>;

function leaf(doc: string, def: unknown, check: Check, kind: ValueKind = 'json'): LeafSpec {
  return { doc, default: def, check, kind };
}

function buildSpec(): Record<string, unknown> {
  const str = (doc: string, def: string, check: Check) => leaf(doc, def, check, 'string');
  const file = (doc: string) => leaf(doc, null, optionalFile, 'string');
  return {
    device: {
      id: str(
        'Device name: MQTT client id and topic level. Defaults to the host name.',
        defaultDeviceId(),
        text('1 to 64 letters, digits, ., _ or -, starting with a letter or digit', DEVICE_ID),
      ),
    },
    cameras: leaf(
      "Cameras: id, source (auto, test, v4l2:/dev/..., csi, csi:N, rtsp/http(s)/file url), width, height, fps; optional analysis: the camera's own fps, resolution, skipDuplicates, duplicateMotion, duplicateDistance.",
      DEFAULT_CAMERAS.map((c) => ({ ...c })),
      camerasCheck,
    ),
    encoder: {
      prefer: leaf(
        '"auto" (the board\'s probed ladder) or FFmpeg H.264 encoder names, best first.',
        'auto',
        encoderPrefer,
      ),
      bitrateKbps: leaf('Target video bitrate per camera, kbit/s.', 2500, intRange(64, 50000)),
    },
    hls: {
      dir: str('Live HLS root; each camera writes <dir>/<camera id>/index.m3u8.', '/run/edge-agent/hls', absoluteDir),
      segmentSeconds: leaf('Length of one live HLS segment, seconds.', 1, intRange(1, 30)),
      // A one-segment window leaves a player nothing to buffer.
      listSize: leaf('Segments kept in the live playlist.', 6, intRange(2, 100)),
    },
    archive: {
      dir: str('Archive root; files go to <dir>/<camera id>/YYYY-MM-DD/.', '/var/lib/edge-agent/archive', absoluteDir),
      segmentSeconds: leaf('Archive length, seconds; cuts at wall-clock multiples of it.', 600, intRange(1, 86400)),
      maxAgeHours: leaf('Archives older than this are deleted, hours.', 168, intRange(1, 87600)),
      minFreePercent: leaf('Oldest archives are deleted while free space is below this, percent.', 10, intRange(0, 90)),
    },
    mqtt: {
      url: str('"embedded" (a broker inside the agent on 127.0.0.1:1883) or mqtt(s)/ws(s) url.', 'embedded', mqttUrl),
      topicPrefix: str(
        'First topic level(s); the root is <topicPrefix>/<device.id>.',
        'edge',
        text(
          'topic levels of letters, digits, _, . or - separated by /',
          /^(?!\$)[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/,
          {
            maxLength: 128,
          },
        ),
      ),
      healthIntervalSeconds: leaf('Seconds between R/health messages.', 30, intRange(1, 3600)),
      configGateSeconds: leaf(
        'Deadline of the health check after a remote config change; failing it reverts the change.',
        60,
        intRange(1, 600),
      ),
      username: leaf(
        'Broker user name, or null.',
        null,
        text('a user name', /^[^\0-\x1f]+$/, { nullable: true, maxLength: 256 }),
        'string',
      ),
      passwordFile: file('File holding the broker password (or systemd credential mqtt-password).'),
      ca: file('CA certificate file (PEM) for mqtts/wss, or null for the system CAs.'),
      cert: file('Client certificate file (PEM) for TLS client auth, or null.'),
      key: file('Client private key file (PEM) for TLS client auth, or null.'),
      commandKeyFile: file(
        'File holding the HMAC key (at least 32 bytes) commands must be signed with (or credential command-key).',
      ),
      requireScopedSignatures: leaf(
        'Accept only signatures that cover the device id and topic (the v2 form); local only.',
        false,
        bool,
      ),
      allowInsecure: leaf(
        'Allow a broker password over plain-text mqtt:// or ws:// to a host off loopback; local only.',
        false,
        bool,
      ),
      unsignedSensitiveChanges: leaf(
        'Without a command key, let unsigned MQTT requests change the signed-only keys (the old behaviour; not recommended); local only.',
        false,
        bool,
      ),
      homeAssistant: {
        enabled: leaf(
          'Publish Home Assistant MQTT discovery (homeassistant/device/<device id>/config); off removes the entities.',
          false,
          bool,
        ),
        snapshotSeconds: leaf(
          'Seconds between the JPEG snapshots fed to the Home Assistant cameras; 0 publishes none.',
          10,
          intRange(0, 3600),
        ),
      },
    },
    analysis: {
      enabled: leaf('Send finished archives to the model for analysis.', false, bool),
      provider: str('Analysis provider.', 'gemini', oneOf(['gemini'])),
      model: str(
        'Model name.',
        'gemini-2.5-flash',
        text('a model name like "gemini-2.5-flash"', /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/),
      ),
      apiKeyFile: file('File holding the Gemini API key (or credential gemini-api-key, or $GEMINI_API_KEY).'),
      baseUrl: leaf(
        'Alternative API endpoint (a proxy or a test server), or null.',
        null,
        optionalUrl(['http', 'https']),
        'string',
      ),
      allowInsecure: leaf('Allow the API key over a plain-text http:// baseUrl off loopback; local only.', false, bool),
      prompt: leaf(
        'Replaces the built-in analysis prompt, or null.',
        null,
        text('a prompt of at most 20000 characters', /\S/, { nullable: true, maxLength: 20000 }),
        'string',
      ),
      maxPerDay: leaf('Most archives analysed per day; 0 pauses analysis.', 200, intRange(0, 100000)),
      skipWhenStill: leaf('Skip archives in which nothing moved.', false, bool),
      deferAfterMinutes: leaf(
        'Minutes after an archive closes without a result before analysis.deferred is sent.',
        10,
        intRange(1, 1440),
      ),
      dailyTokens: leaf(
        'Gemini tokens per UTC day; null or 0 = no limit. Over it, archives wait.',
        null,
        optionalInt(0, 1e12),
      ),
      dailyRequests: leaf(
        'Gemini requests per UTC day; null or 0 = no limit. Over it, archives wait.',
        null,
        optionalInt(0, 1e9),
      ),
      // 0.25 fps at low resolution: 150 frames × 66 tokens, ~10k input tokens per 10-minute clip (target 15k).
      fps: leaf(
        'Frames per second the model sees (Gemini videoMetadata.fps, 0 < fps <= 24); the proxy is made at this rate.',
        0.25,
        ANALYSIS_COST_CHECKS.fps,
      ),
      resolution: str(
        'Gemini media resolution: "low" (~66 tokens a frame), "medium" or "high" (~258); sizes the proxy too.',
        'low',
        ANALYSIS_COST_CHECKS.resolution,
      ),
      skipDuplicates: leaf(
        'Skip a clip with motion under duplicateMotion whose scene matches the last clip of that camera the model analysed (off: every archive gets a result).',
        false,
        ANALYSIS_COST_CHECKS.skipDuplicates,
      ),
      // A person of 0.2 % of the view walking changed 0.0035 of the picture; still scenes 0.
      duplicateMotion: leaf(
        'A clip in which more than this fraction (0..1) of the picture changed clearly between two motion frames is never skipped as a duplicate.',
        0.001,
        ANALYSIS_COST_CHECKS.duplicateMotion,
      ),
      duplicateDistance: leaf(
        'Most neighbour comparisons (of 256) that may change between two scene signatures still counted as the same scene.',
        8,
        ANALYSIS_COST_CHECKS.duplicateDistance,
      ),
    },
    http: {
      listen: str(
        'host:port of the local status page and API; off loopback it needs tokenFile.',
        '127.0.0.1:8080',
        hostPort,
      ),
      tokenFile: file('File holding the bearer token HTTP requests need (or credential http-token).'),
      allowedHosts: leaf(
        'Extra names the page may be reached by (a DNS name, a proxy); loopback, the host name and its addresses always work.',
        [],
        hostNames,
      ),
      liveView: leaf(
        'Serve the low-latency live view (/live/<camera id>: fragmented MP4 over a WebSocket) from the same encode; false leaves the page on HLS.',
        true,
        bool,
      ),
    },
    dataDir: str('Agent state: outbox, encoder probe cache, analysis state.', '/var/lib/edge-agent', absoluteDir),
  };
}

function isLeafSpec(node: unknown): node is LeafSpec {
  return typeof node === 'object' && node !== null && 'check' in node;
}

function finish(node: Record<string, unknown>, prefix: string, leaves: Map<string, SchemaLeaf>): void {
  for (const [name, child] of Object.entries(node)) {
    const key = prefix === '' ? name : `${prefix}.${name}`;
    if (isLeafSpec(child)) {
      const full: SchemaLeaf = {
        ...child,
        key,
        env: envName(key),
        format: CHECK_FORMAT,
        nullable: child.default === null,
      };
      node[name] = full;
      leaves.set(key, full);
    } else {
      finish(child as Record<string, unknown>, key, leaves);
    }
  }
}

let built: { schema: convict.Schema<AgentConfig>; leaves: Map<string, SchemaLeaf> } | undefined;

function build() {
  if (!built) {
    const spec = buildSpec();
    const leaves = new Map<string, SchemaLeaf>();
    finish(spec, '', leaves);
    built = { schema: spec as unknown as convict.Schema<AgentConfig>, leaves };
  }
  return built;
}

/** The convict schema (doc, default, format, env for every key). */
export function configSchema(): convict.Schema<AgentConfig> {
  return build().schema;
}

/** Every leaf by dotted key path, in schema order. */
export function schemaLeaves(): ReadonlyMap<string, SchemaLeaf> {
  return build().leaves;
}

/** A fresh convict instance; `env` holds already-typed values by variable name (see load.ts). */
export function newConvict(env: Record<string, unknown> = {}): convict.Config<AgentConfig> {
  // args: [] keeps convict from reading our own command line, which it does by default.
  return convict(configSchema(), { env: env as NodeJS.ProcessEnv, args: [] });
}
