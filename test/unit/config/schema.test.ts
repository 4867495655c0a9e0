import t from 'tap';
import { configSchema, defaultDeviceId, envName, schemaLeaves } from '../../../agent/config/schema.js';
import { validateConfig } from '../../../agent/config/validate.js';

// The contract's config block, key for key, plus mqtt.configGateSeconds (the deadline of a remote change's health check).
const CONTRACT_KEYS = [
  'device.id',
  'cameras',
  'encoder.prefer',
  'encoder.bitrateKbps',
  'hls.dir',
  'hls.segmentSeconds',
  'hls.listSize',
  'archive.dir',
  'archive.segmentSeconds',
  'archive.maxAgeHours',
  'archive.minFreePercent',
  'mqtt.url',
  'mqtt.topicPrefix',
  'mqtt.healthIntervalSeconds',
  'mqtt.configGateSeconds',
  'mqtt.username',
  'mqtt.passwordFile',
  'mqtt.ca',
  'mqtt.cert',
  'mqtt.key',
  'mqtt.commandKeyFile',
  // Issue 15: local-only security switches.
  'mqtt.requireScopedSignatures',
  'mqtt.allowInsecure',
  'mqtt.unsignedSensitiveChanges',
  'mqtt.homeAssistant.enabled',
  'mqtt.homeAssistant.snapshotSeconds',
  'analysis.enabled',
  'analysis.provider',
  'analysis.model',
  'analysis.apiKeyFile',
  'analysis.baseUrl',
  'analysis.allowInsecure',
  'analysis.prompt',
  'analysis.maxPerDay',
  'analysis.skipWhenStill',
  'analysis.deferAfterMinutes',
  'analysis.dailyTokens',
  'analysis.dailyRequests',
  // Issue 18: the cost levers.
  'analysis.fps',
  'analysis.resolution',
  'analysis.skipDuplicates',
  'analysis.duplicateMotion',
  'analysis.duplicateDistance',
  'http.listen',
  'http.tokenFile',
  'http.allowedHosts',
  'http.liveView',
  'dataDir',
];

t.test('every contract key has a doc, a default, a format and an env variable', async (t) => {
  t.same([...schemaLeaves().keys()], CONTRACT_KEYS);
  for (const leaf of schemaLeaves().values()) {
    t.ok(leaf.doc.length > 10, `${leaf.key} doc`);
    t.ok(leaf.default !== undefined, `${leaf.key} default`);
    t.equal(leaf.format, 'edge-agent-check', `${leaf.key} format`);
    t.equal(leaf.env, envName(leaf.key));
    t.same(leaf.check(leaf.default, leaf.key), [], `${leaf.key} default passes its own check`);
  }
  t.ok(configSchema());
});

t.test("the defaults are the contract's", async (t) => {
  const config = validateConfig({});
  const { device, ...rest } = config;
  t.equal(device.id, defaultDeviceId());
  t.same(rest, {
    cameras: [{ id: 'cam1', source: 'auto', width: 1280, height: 720, fps: 30 }],
    encoder: { prefer: 'auto', bitrateKbps: 2500 },
    hls: { dir: '/run/edge-agent/hls', segmentSeconds: 1, listSize: 6 },
    archive: { dir: '/var/lib/edge-agent/archive', segmentSeconds: 600, maxAgeHours: 168, minFreePercent: 10 },
    mqtt: {
      url: 'embedded',
      topicPrefix: 'edge',
      healthIntervalSeconds: 30,
      configGateSeconds: 60,
      username: null,
      passwordFile: null,
      ca: null,
      cert: null,
      key: null,
      commandKeyFile: null,
      requireScopedSignatures: false,
      allowInsecure: false,
      unsignedSensitiveChanges: false,
      homeAssistant: { enabled: false, snapshotSeconds: 10 },
    },
    analysis: {
      enabled: false,
      provider: 'gemini',
      model: 'gemini-2.5-flash',
      apiKeyFile: null,
      baseUrl: null,
      allowInsecure: false,
      prompt: null,
      maxPerDay: 200,
      skipWhenStill: false,
      deferAfterMinutes: 10,
      dailyTokens: null,
      dailyRequests: null,
      fps: 0.25,
      resolution: 'low',
      skipDuplicates: false,
      duplicateMotion: 0.001,
      duplicateDistance: 8,
    },
    http: { listen: '127.0.0.1:8080', tokenFile: null, allowedHosts: [], liveView: true },
    dataDir: '/var/lib/edge-agent',
  });
});

t.test('envName is EDGE_AGENT_ + the key path in upper snake case', async (t) => {
  t.equal(envName('mqtt.url'), 'EDGE_AGENT_MQTT_URL');
  t.equal(envName('hls.segmentSeconds'), 'EDGE_AGENT_HLS_SEGMENT_SECONDS');
  t.equal(envName('device.id'), 'EDGE_AGENT_DEVICE_ID');
  t.equal(envName('cameras'), 'EDGE_AGENT_CAMERAS');
  t.equal(envName('dataDir'), 'EDGE_AGENT_DATA_DIR');
  t.equal(envName('encoder.bitrateKbps'), 'EDGE_AGENT_ENCODER_BITRATE_KBPS');
});

t.test('defaultDeviceId makes the host name a valid topic segment', async (t) => {
  const cases: [string, string][] = [
    ['gate-01', 'gate-01'],
    ['raspberrypi.local', 'raspberrypi.local'],
    ['my host+#/x', 'my-host-x'],
    ['--weird', 'weird'],
    ['', 'edge-agent'],
    ['###', 'edge-agent'],
    ['a'.repeat(100), 'a'.repeat(64)],
  ];
  for (const [host, id] of cases) t.equal(defaultDeviceId(host), id, JSON.stringify(host));
});
