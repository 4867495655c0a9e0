import t from 'tap';
import { affectedModules, changedCameras, changedKeys, jsonEqual, planChange } from '../../../agent/config/diff.js';
import { validateConfig } from '../../../agent/config/validate.js';

const base = validateConfig({ device: { id: 'gate' } });
const edit = (over: Record<string, unknown>) => validateConfig({ device: { id: 'gate' }, ...over });

t.test('changedKeys lists the dotted paths that differ', async (t) => {
  t.same(changedKeys(base, base), []);
  t.same(changedKeys(base, edit({ hls: { listSize: 8 } })), ['hls.listSize']);
  t.same(changedKeys(base, edit({ mqtt: { url: 'mqtt://b', topicPrefix: 'x' } })), ['mqtt.url', 'mqtt.topicPrefix']);
  t.same(
    changedKeys(base, edit({ cameras: [{ id: 'cam1', source: 'auto', fps: 15 }] })),
    ['cameras'],
    'a list is one value',
  );
  t.same(changedKeys(base, edit({ encoder: { prefer: ['libx264'] } })), ['encoder.prefer']);
  t.same(changedKeys(base, edit({ dataDir: '/srv' })), ['dataDir']);
});

t.test('changedCameras names the cameras added, removed or edited', async (t) => {
  const two = edit({
    cameras: [
      { id: 'cam1', source: 'auto' },
      { id: 'b', source: 'test' },
    ],
  });
  t.same(changedCameras(base, two), ['b']);
  t.same(changedCameras(two, base), ['b']);
  t.same(
    changedCameras(
      two,
      edit({
        cameras: [
          { id: 'cam1', source: 'auto', fps: 10 },
          { id: 'b', source: 'test' },
        ],
      }),
    ),
    ['cam1'],
  );
  t.same(
    changedCameras(
      two,
      edit({
        cameras: [
          { id: 'cam1', source: 'auto', analysis: { fps: 1 } },
          { id: 'b', source: 'test' },
        ],
      }),
    ),
    [],
    "analysis overrides are not the pipeline's",
  );
});

t.test('affectedModules maps keys to the modules to restart', async (t) => {
  const cases: [string[], string[]][] = [
    [[], []],
    [['cameras'], ['pipeline']],
    [['encoder.prefer', 'encoder.bitrateKbps'], ['pipeline']],
    [['hls.segmentSeconds'], ['pipeline']],
    [['hls.dir'], ['pipeline', 'http']],
    [['archive.segmentSeconds'], ['pipeline']],
    [['archive.maxAgeHours'], ['archive']],
    [['archive.minFreePercent'], ['archive']],
    [['archive.dir'], ['pipeline', 'archive', 'http']],
    [['mqtt.url'], ['mqtt']],
    [['analysis.model', 'analysis.enabled'], ['analysis']],
    [['http.listen'], ['http']],
    // The live view is an output of every FFmpeg command as well as a path of the server.
    [['http.liveView'], ['pipeline', 'http']],
    [['device.id'], ['device']],
    [['dataDir'], ['device']],
    [['cameras[0].fps'], ['pipeline']],
    [['something.new'], ['device']],
  ];
  for (const [keys, modules] of cases) {
    t.same([...affectedModules(keys)].sort(), [...modules].sort(), keys.join(', ') || 'nothing');
  }
});

t.test('jsonEqual', async (t) => {
  t.ok(jsonEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }));
  t.notOk(jsonEqual({ a: 1 }, { b: 1 }));
  t.notOk(jsonEqual([1], { 0: 1 }));
  t.notOk(jsonEqual(null, {}));
  t.notOk(jsonEqual({ a: 1 }, { a: 1, b: 2 }));
});

t.test('planChange: only what a change touches restarts', async (t) => {
  const two = edit({
    cameras: [
      { id: 'cam1', source: 'test' },
      { id: 'b', source: 'test' },
    ],
  });
  const cases: [
    string,
    ReturnType<typeof edit>,
    ReturnType<typeof edit>,
    { modules: string[]; cameras: 'all' | string[] },
  ][] = [
    [
      'one camera edited: that camera only',
      two,
      edit({
        cameras: [
          { id: 'cam1', source: 'test', fps: 10 },
          { id: 'b', source: 'test' },
        ],
      }),
      { modules: ['pipeline'], cameras: ['cam1'] },
    ],
    [
      'a camera added: that camera only',
      two,
      edit({
        cameras: [
          { id: 'cam1', source: 'test' },
          { id: 'b', source: 'test' },
          { id: 'c', source: 'test' },
        ],
      }),
      { modules: ['pipeline'], cameras: ['c'] },
    ],
    [
      'encoder: every camera',
      two,
      edit({
        cameras: [
          { id: 'cam1', source: 'test' },
          { id: 'b', source: 'test' },
        ],
        encoder: { bitrateKbps: 900 },
      }),
      { modules: ['pipeline'], cameras: 'all' },
    ],
    [
      'a camera and the encoder: every camera',
      two,
      edit({
        cameras: [
          { id: 'cam1', source: 'test', fps: 9 },
          { id: 'b', source: 'test' },
        ],
        encoder: { bitrateKbps: 900 },
      }),
      { modules: ['pipeline'], cameras: 'all' },
    ],
    [
      'analysis turned on: every camera (the motion branch)',
      base,
      edit({ analysis: { enabled: true } }),
      { modules: ['analysis', 'pipeline'], cameras: 'all' },
    ],
    [
      'health interval: in place, no link restart',
      base,
      edit({ mqtt: { healthIntervalSeconds: 7 } }),
      { modules: ['health'], cameras: [] },
    ],
    ['gate deadline: nothing restarts', base, edit({ mqtt: { configGateSeconds: 9 } }), { modules: [], cameras: [] }],
    ['broker url: the link', base, edit({ mqtt: { url: 'mqtt://b:1883' } }), { modules: ['mqtt'], cameras: [] }],
    [
      "a camera's analysis overrides only: the analysis module, no recording restarts",
      two,
      edit({
        cameras: [
          { id: 'cam1', source: 'test', analysis: { fps: 1 } },
          { id: 'b', source: 'test' },
        ],
      }),
      { modules: ['analysis'], cameras: [] },
    ],
    [
      'a camera edited and its overrides: that camera and analysis',
      two,
      edit({
        cameras: [
          { id: 'cam1', source: 'test', fps: 10, analysis: { resolution: 'medium' } },
          { id: 'b', source: 'test' },
        ],
      }),
      { modules: ['analysis', 'pipeline'], cameras: ['cam1'] },
    ],
    [
      'a camera added with overrides: that camera and analysis',
      two,
      edit({
        cameras: [
          { id: 'cam1', source: 'test' },
          { id: 'b', source: 'test' },
          { id: 'c', source: 'test', analysis: { skipDuplicates: false } },
        ],
      }),
      { modules: ['analysis', 'pipeline'], cameras: ['c'] },
    ],
    [
      'global cost levers: the analysis module',
      base,
      edit({ analysis: { fps: 1, resolution: 'medium', duplicateDistance: 8 } }),
      { modules: ['analysis'], cameras: [] },
    ],
  ];
  for (const [name, a, b, want] of cases) {
    const plan = planChange(a, b);
    t.same(
      { modules: [...plan.modules].sort(), cameras: plan.cameras },
      { modules: want.modules.sort(), cameras: want.cameras },
      name,
    );
  }
});
