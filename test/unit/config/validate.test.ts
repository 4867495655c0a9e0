import t from 'tap';
import { ConfigError } from '../../../agent/contract/errors.js';
import { validateConfig } from '../../../agent/config/validate.js';

/** Runs validateConfig and returns its problem lines ([] when valid). */
function problemsOf(raw: unknown): string[] {
  try {
    validateConfig(raw);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems;
  }
}

const cam = (over: Record<string, unknown> = {}) => ({
  id: 'cam1',
  source: 'test',
  width: 640,
  height: 480,
  fps: 15,
  ...over,
});

// One row per error path: the config, then the exact line a technician reads.
const cases: [name: string, raw: unknown, expected: string][] = [
  [
    'top-level unknown key',
    { colour: 'red' },
    'colour is not a known key; known keys: device, cameras, encoder, hls, archive, mqtt, analysis, http, dataDir',
  ],
  [
    'unknown key inside a section',
    { hls: { dir: '/x', speed: 2 } },
    'hls.speed is not a known key; known keys in hls: dir, segmentSeconds, listSize',
  ],
  [
    'unknown key inside a camera',
    { cameras: [cam({ zoom: 2 })] },
    'cameras[0].zoom is not a known key; a camera has id, source, width, height, fps, analysis',
  ],
  [
    '__proto__ key',
    JSON.parse('{"__proto__": {"polluted": true}}'),
    '__proto__ is not a known key; known keys: device, cameras, encoder, hls, archive, mqtt, analysis, http, dataDir',
  ],
  ['section given as a number', { hls: 5 }, 'hls must be an object with dir, segmentSeconds, listSize, got 5'],
  [
    'section given as a list',
    { mqtt: [] },
    'mqtt must be an object with url, topicPrefix, healthIntervalSeconds, configGateSeconds, username, passwordFile, ca, cert, key, commandKeyFile, requireScopedSignatures, allowInsecure, unsignedSensitiveChanges, homeAssistant, got []',
  ],
  [
    'string for a number',
    { hls: { segmentSeconds: '2' } },
    'hls.segmentSeconds must be an integer between 1 and 30, got "2"',
  ],
  [
    'fraction for an integer',
    { archive: { maxAgeHours: 1.5 } },
    'archive.maxAgeHours must be an integer between 1 and 87600, got 1.5',
  ],
  [
    'null for a number',
    { encoder: { bitrateKbps: null } },
    'encoder.bitrateKbps must be an integer between 64 and 50000, got null',
  ],
  ['string for a boolean', { analysis: { enabled: 'yes' } }, 'analysis.enabled must be true or false, got "yes"'],
  ['fps zero', { cameras: [cam({ fps: 0 })] }, 'cameras[0].fps must be an integer between 1 and 120, got 0'],
  ['fps too high', { cameras: [cam({ fps: 121 })] }, 'cameras[0].fps must be an integer between 1 and 120, got 121'],
  [
    'odd width',
    { cameras: [cam({ width: 1281 })] },
    'cameras[0].width must be an even integer between 16 and 4096, got 1281',
  ],
  [
    'height too small',
    { cameras: [cam({ height: 8 })] },
    'cameras[0].height must be an even integer between 16 and 4096, got 8',
  ],
  [
    'width too large',
    { cameras: [cam({ width: 8192 })] },
    'cameras[0].width must be an even integer between 16 and 4096, got 8192',
  ],
  [
    'bad camera id',
    { cameras: [cam({ id: 'front door' })] },
    'cameras[0].id must be 1 to 32 letters, digits, _ or -, starting with a letter or digit, got "front door"',
  ],
  [
    'missing camera id',
    { cameras: [{ source: 'test' }] },
    'cameras[0].id must be 1 to 32 letters, digits, _ or -, starting with a letter or digit, got nothing',
  ],
  [
    'duplicate camera ids',
    { cameras: [cam(), cam({ id: 'CAM1' })] },
    'cameras[1].id must be unique among cameras (ignoring case), got "CAM1" again',
  ],
  [
    'camera not an object',
    { cameras: ['cam1'] },
    'cameras[0] must be a camera object with id, source, width, height and fps, got "cam1"',
  ],
  [
    'empty camera list',
    { cameras: [] },
    'cameras must be a list of 1 to 8 cameras like {"id":"cam1","source":"auto","width":1280,"height":720,"fps":30}, got []',
  ],
  [
    'unknown source',
    { cameras: [cam({ source: 'usb0' })] },
    'cameras[0].source must be auto, test, v4l2:/dev/<device>, csi, csi:<n>, or an rtsp://, rtsps://, http://, https:// or file: url, got "usb0"',
  ],
  [
    'v4l2 outside /dev',
    { cameras: [cam({ source: 'v4l2:/etc/passwd' })] },
    'cameras[0].source must be auto, test, v4l2:/dev/<device>, csi, csi:<n>, or an rtsp://, rtsps://, http://, https:// or file: url, got "v4l2:/etc/passwd"',
  ],
  [
    'v4l2 escaping /dev',
    { cameras: [cam({ source: 'v4l2:/dev/../etc/passwd' })] },
    'cameras[0].source must be auto, test, v4l2:/dev/<device>, csi, csi:<n>, or an rtsp://, rtsps://, http://, https:// or file: url, got "v4l2:/dev/../etc/passwd"',
  ],
  [
    'csi with a name',
    { cameras: [cam({ source: 'csi:front' })] },
    'cameras[0].source must be auto, test, v4l2:/dev/<device>, csi, csi:<n>, or an rtsp://, rtsps://, http://, https:// or file: url, got "csi:front"',
  ],
  [
    'rtsp without host',
    { cameras: [cam({ source: 'rtsp://' })] },
    'cameras[0].source must be auto, test, v4l2:/dev/<device>, csi, csi:<n>, or an rtsp://, rtsps://, http://, https:// or file: url, got "rtsp://"',
  ],
  [
    'encoder.prefer empty list',
    { encoder: { prefer: [] } },
    'encoder.prefer must be "auto" or a non-empty list of distinct ffmpeg encoder names like ["h264_v4l2m2m", "libx264"], got []',
  ],
  [
    'encoder.prefer bad name',
    { encoder: { prefer: ['libx264', 'H264 NVENC'] } },
    'encoder.prefer[1] must be an ffmpeg encoder name of lower-case letters, digits and _, or a camera-side encoder (rpicam-h264, nvv4l2h264enc), got "H264 NVENC"',
  ],
  [
    'encoder.prefer repeated',
    { encoder: { prefer: ['libx264', 'libx264'] } },
    'encoder.prefer[1] must not repeat an encoder already listed, got "libx264" again',
  ],
  [
    'encoder.prefer a string',
    { encoder: { prefer: 'libx264' } },
    'encoder.prefer must be "auto" or a non-empty list of distinct ffmpeg encoder names like ["h264_v4l2m2m", "libx264"], got "libx264"',
  ],
  [
    'mqtt.url http',
    { mqtt: { url: 'http://broker' } },
    'mqtt.url must be "embedded" or an mqtt://, mqtts://, ws:// or wss:// url with a host, got "http://broker"',
  ],
  [
    'mqtt.url not a url',
    { mqtt: { url: 'broker:1883' } },
    'mqtt.url must be "embedded" or an mqtt://, mqtts://, ws:// or wss:// url with a host, got "broker:1883"',
  ],
  [
    'mqtt.url password never echoed',
    { mqtt: { url: 'tcp://user:hunter2@broker' } },
    'mqtt.url must be "embedded" or an mqtt://, mqtts://, ws:// or wss:// url with a host, got "tcp://user:[redacted]@broker"',
  ],
  [
    'analysis.baseUrl ftp',
    { analysis: { baseUrl: 'ftp://x' } },
    'analysis.baseUrl must be null or a http:// or https:// url with a host, got "ftp://x"',
  ],
  ['analysis.provider other', { analysis: { provider: 'openai' } }, 'analysis.provider must be "gemini", got "openai"'],
  [
    'analysis.fps zero (Gemini takes 0 < fps <= 24)',
    { analysis: { fps: 0 } },
    'analysis.fps must be a number above 0 up to 24, got 0',
  ],
  ['analysis.fps above 24', { analysis: { fps: 30 } }, 'analysis.fps must be a number above 0 up to 24, got 30'],
  [
    'analysis.resolution unknown',
    { analysis: { resolution: 'ultra' } },
    'analysis.resolution must be one of "low", "medium", "high", got "ultra"',
  ],
  [
    'analysis.duplicateMotion above 1',
    { analysis: { duplicateMotion: 2 } },
    'analysis.duplicateMotion must be a number from 0 to 1, got 2',
  ],
  [
    'analysis.duplicateDistance past the 256 bits',
    { analysis: { duplicateDistance: 300 } },
    'analysis.duplicateDistance must be an integer between 0 and 256, got 300',
  ],
  [
    "a camera's analysis not an object",
    { cameras: [cam({ analysis: 1 })] },
    'cameras[0].analysis must be an object with some of fps, resolution, skipDuplicates, duplicateMotion, duplicateDistance, got 1',
  ],
  [
    "a camera's analysis with an unknown key",
    { cameras: [cam({ analysis: { model: 'x' } })] },
    "cameras[0].analysis.model is not a known key; a camera's analysis has fps, resolution, skipDuplicates, duplicateMotion, duplicateDistance",
  ],
  [
    "a camera's analysis fps out of range",
    { cameras: [cam({ analysis: { fps: -1 } })] },
    'cameras[0].analysis.fps must be a number above 0 up to 24, got -1',
  ],
  [
    "a camera's analysis resolution unknown",
    { cameras: [cam({ analysis: { resolution: 'LOW' } })] },
    'cameras[0].analysis.resolution must be one of "low", "medium", "high", got "LOW"',
  ],
  [
    'http.listen without port',
    { http: { listen: '127.0.0.1' } },
    'http.listen must be host:port, e.g. "127.0.0.1:8080" or "[::1]:8080", with a port up to 65535, got "127.0.0.1"',
  ],
  [
    'http.listen port too big',
    { http: { listen: 'localhost:70000' } },
    'http.listen must be host:port, e.g. "127.0.0.1:8080" or "[::1]:8080", with a port up to 65535, got "localhost:70000"',
  ],
  ['relative hls.dir', { hls: { dir: 'hls' } }, 'hls.dir must be an absolute path, got "hls"'],
  ['empty dataDir', { dataDir: '' }, 'dataDir must be an absolute path, got ""'],
  [
    'device.id with a slash',
    { device: { id: 'gate/01' } },
    'device.id must be 1 to 64 letters, digits, ., _ or -, starting with a letter or digit, got "gate/01"',
  ],
  [
    'topicPrefix with a wildcard',
    { mqtt: { topicPrefix: 'edge/#' } },
    'mqtt.topicPrefix must be topic levels of letters, digits, _, . or - separated by /, got "edge/#"',
  ],
  ['empty passwordFile', { mqtt: { passwordFile: '' } }, 'mqtt.passwordFile must be null or a file path, got ""'],
  [
    'hls longer than archive',
    { hls: { segmentSeconds: 10 }, archive: { segmentSeconds: 5 } },
    'hls.segmentSeconds must not exceed archive.segmentSeconds (5), got 10',
  ],
  [
    'archive not a multiple of hls',
    { hls: { segmentSeconds: 4 }, archive: { segmentSeconds: 10 } },
    'archive.segmentSeconds must be a whole multiple of hls.segmentSeconds (4) so cuts fall on keyframes, got 10',
  ],
  [
    'listen off loopback without token',
    { http: { listen: '0.0.0.0:8080' } },
    'http.tokenFile must be set when http.listen is off loopback ("0.0.0.0:8080"), got null',
  ],
  [
    'two cameras on one device',
    { cameras: [cam({ source: 'csi' }), cam({ id: 'b', source: 'csi:0' })] },
    'cameras[1].source must not open the same device as cameras[0] (a capture device serves one reader), got "csi:0"',
  ],
  [
    'two auto cameras',
    { cameras: [cam({ source: 'auto' }), cam({ id: 'b', source: 'auto' })] },
    'cameras[1].source must not open the same device as cameras[0] (a capture device serves one reader), got "auto"',
  ],
  [
    'archive inside hls',
    { hls: { dir: '/srv/edge' }, archive: { dir: '/srv/edge/archive/' } },
    'archive.dir must not be hls.dir or contain it or lie inside it ("/srv/edge"), got "/srv/edge/archive/"',
  ],
  // Issue 15: hls.dir on dataDir let one camera restart delete the agent's state.
  [
    'hls on dataDir',
    { hls: { dir: '/var/lib/edge-agent' }, archive: { dir: '/srv/archive' } },
    'hls.dir must not be dataDir or contain it ("/var/lib/edge-agent"), got "/var/lib/edge-agent"',
  ],
  [
    'hls around dataDir',
    { hls: { dir: '/srv/edge' }, dataDir: '/srv/edge/state' },
    'hls.dir must not be dataDir or contain it ("/srv/edge/state"), got "/srv/edge"',
  ],
  [
    'dataDir a system folder',
    { dataDir: '/etc' },
    'dataDir must be a folder of its own, not a system folder or one inside /proc, /sys, /dev, /boot, /usr, /bin, /sbin or /lib, got "/etc"',
  ],
  [
    'archive in the kernel tree',
    { archive: { dir: '/sys/kernel/x' } },
    'archive.dir must be a folder of its own, not a system folder or one inside /proc, /sys, /dev, /boot, /usr, /bin, /sbin or /lib, got "/sys/kernel/x"',
  ],
  [
    'hls in /usr after ..',
    { hls: { dir: '/run/../usr/share/x' } },
    'hls.dir must be a folder of its own, not a system folder or one inside /proc, /sys, /dev, /boot, /usr, /bin, /sbin or /lib, got "/run/../usr/share/x"',
  ],
  [
    'infinite number',
    { encoder: { bitrateKbps: Infinity } },
    'encoder.bitrateKbps must be an integer between 64 and 50000, got Infinity',
  ],
  [
    'tls cert without key',
    { mqtt: { cert: '/etc/c.pem' } },
    'mqtt.key must be set when mqtt.cert is (tls client auth needs both), got null',
  ],
  ['config not an object', [1, 2], 'the config must be a json object, got [1,2]'],
  // Found by the reliability suite's config fuzzer: convict crashed walking these ("config could not be merged").
  [
    'object with objects inside for a string',
    { http: { listen: { nested: { deeper: [{}] } } } },
    'http.listen must be a string, got {"nested":{"deeper":[{}]}}',
  ],
  [
    'object with objects inside for a number',
    { archive: { maxAgeHours: { a: { b: 1 } } } },
    'archive.maxAgeHours must be a number, got {"a":{"b":1}}',
  ],
  [
    'object with a list inside for a nullable string',
    { mqtt: { username: { a: [] } } },
    'mqtt.username must be a string or null, got {"a":[]}',
  ],
];

t.test('every error path names the key, the bad value and what is allowed', async (t) => {
  for (const [name, raw, expected] of cases) {
    const problems = problemsOf(raw);
    t.same(problems, [expected], name);
  }
});

t.test('every problem is found in one pass, one line each', async (t) => {
  const problems = problemsOf({
    colour: 1,
    cameras: [cam({ fps: 0, width: 3 }), cam({ source: 'x' })],
    hls: { listSize: 1 },
    mqtt: { url: 'nope' },
  });
  t.equal(problems.length, 7);
  for (const line of problems) {
    t.notMatch(line, /\n/);
    t.equal(
      line,
      line.replace(/^[A-Z]/, (c) => c.toLowerCase()),
      'starts lower case',
    );
  }
});

t.test('cross-field checks do not repeat a key already reported', async (t) => {
  t.same(problemsOf({ hls: { segmentSeconds: 0 }, archive: { segmentSeconds: 7 } }), [
    'hls.segmentSeconds must be an integer between 1 and 30, got 0',
  ]);
});

t.test('valid configs pass', async (t) => {
  const good: [string, unknown][] = [
    ['empty object: all defaults', {}],
    [
      'device and board sources',
      {
        cameras: ['auto', 'test', 'v4l2:/dev/video0', 'v4l2:/dev/v4l/by-id/usb-cam-video-index0', 'csi', 'csi:1'].map(
          (source, i) => cam({ id: `c${i}`, source }),
        ),
      },
    ],
    [
      'url sources',
      {
        cameras: [
          'rtsp://u:p@10.0.0.5:554/s',
          'rtsps://cam/s',
          'http://cam/mjpg',
          'file:///var/lib/edge-agent/media/x.mp4',
          'file:/var/lib/edge-agent/media/a%20b.mp4',
        ].map((source, i) => cam({ id: `c${i}`, source })),
      },
    ],
    [
      'file and https sources',
      { cameras: [cam({ source: 'https://cam/x' }), cam({ id: 'b', source: 'file:clip.mp4' })] },
    ],
    ['the test pattern twice', { cameras: [cam(), cam({ id: 'b' })] }],
    ['sibling directories', { hls: { dir: '/srv/edge/hls' }, archive: { dir: '/srv/edge/hls-archive' } }],
    ['partial camera filled from the default', { cameras: [{ id: 'door', source: 'v4l2:/dev/video0' }] }],
    ['listen off loopback with a token', { http: { listen: '0.0.0.0:8080', tokenFile: '/etc/edge-agent/token' } }],
    ['ipv6 loopback', { http: { listen: '[::1]:8080' } }],
    [
      'central broker with tls',
      { mqtt: { url: 'mqtts://user@broker.example:8883', ca: '/etc/ca.pem', cert: '/c', key: '/k' } },
    ],
    ['encoder list', { encoder: { prefer: ['h264_v4l2m2m', 'libx264'] } }],
    ['hls equal to archive', { hls: { segmentSeconds: 5 }, archive: { segmentSeconds: 5 } }],
    ['ws broker', { mqtt: { url: 'wss://broker/mqtt', topicPrefix: 'site/a' } }],
    [
      'cost levers',
      { analysis: { fps: 24, resolution: 'high', skipDuplicates: false, duplicateMotion: 0, duplicateDistance: 0 } },
    ],
    [
      'hls inside dataDir (the reset deletes only its own files)',
      { dataDir: '/srv/edge', hls: { dir: '/srv/edge/hls' }, archive: { dir: '/srv/edge/archive' } },
    ],
    [
      'a camera with some analysis overrides',
      { cameras: [cam({ analysis: { fps: 0.1, resolution: 'medium' } }), cam({ id: 'b', analysis: {} })] },
    ],
  ];
  for (const [name, raw] of good) t.same(problemsOf(raw), [], name);
  const config = validateConfig({ cameras: [{ id: 'door', source: 'v4l2:/dev/video0' }] });
  t.same(config.cameras, [{ id: 'door', source: 'v4l2:/dev/video0', width: 1280, height: 720, fps: 30 }]);
  const overridden = validateConfig({ cameras: [{ analysis: { fps: 1 }, id: 'door' }] });
  t.same(
    overridden.cameras,
    [{ id: 'door', source: 'auto', width: 1280, height: 720, fps: 30, analysis: { fps: 1 } }],
    "overrides kept, after the contract's keys",
  );
});

t.test('a string that looks like a number is a wrong type, not silently coerced', async (t) => {
  t.same(problemsOf({ cameras: [cam({ fps: '30' })] }), [
    'cameras[0].fps must be an integer between 1 and 120, got "30"',
  ]);
  t.same(problemsOf({ analysis: { maxPerDay: '5' } }), [
    'analysis.maxPerDay must be an integer between 0 and 100000, got "5"',
  ]);
});
