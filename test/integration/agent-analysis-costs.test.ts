/**
 * The cost levers on the real agent (issue 18, item 3): a camera filming a still scene (a looped
 * clip in the media folder) with its own `analysis` overrides, and the moving test pattern on the
 * global levers (skipDuplicates off there: only the still camera turns it on). Requests carry
 * each camera's videoMetadata.fps and media resolution; the still camera's repeated scene is
 * skipped with `analysis.skipped` (reason `duplicate`) once its first clip was analysed, while
 * every moving clip is analysed.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { analysisAgentWorld } from '../helpers/analysisAgent.js';

t.test(
  "per-camera fps and resolution reach the API; a still camera's repeated scene is skipped, moving clips are not",
  async (t) => {
    const dir = t.testdir();
    const media = path.join(dir, 'data', 'media');
    mkdirSync(media, { recursive: true });
    // 30 s of one still picture; the agent loops it in real time like a camera that sees nothing happen.
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'smptebars=s=320x240:r=15',
      '-t',
      '30',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-g',
      '15',
      '-f',
      'mpegts',
      path.join(media, 'still.ts'),
    ]);
    // Videos ACTIVE at once: two cameras' clips every 6 s must not outrun one worker (the moving
    // camera's clips go first by motion score and would starve the still one).
    const { gemini, watcher, root, startAgent } = await analysisAgentWorld(t, dir, ['analysis', 'events'], {
      processingPolls: 0,
    });

    startAgent({ maxPerDay: 100, fps: 0.5, resolution: 'low', skipDuplicates: false }, (config) => {
      config.archive = { ...(config.archive as object), segmentSeconds: 6 };
      config.cameras = [
        { id: 'cam1', source: 'test', width: 320, height: 240, fps: 15 },
        {
          id: 'still',
          source: `file://${media}/still.ts`,
          width: 320,
          height: 240,
          fps: 15,
          analysis: { fps: 0.25, resolution: 'medium', skipDuplicates: true },
        },
      ];
    });

    const events = () =>
      watcher.on(`${root}/events`).map(
        (m) =>
          m.json as {
            type: string;
            camera?: string;
            archive?: string;
            reason?: string;
            sameAs?: string;
            distance?: number;
          },
      );
    const results = (camera: string) =>
      watcher
        .on(`${root}/analysis`)
        .map((m) => m.json as { camera: string; archive: string })
        .filter((r) => r.camera === camera);
    const duplicate = await watcher.waitFor(
      (m) => m.topic === `${root}/events` && (m.json as { type: string; reason?: string }).reason === 'duplicate',
      90_000,
    );
    t.match(
      duplicate.json,
      {
        type: 'analysis.skipped',
        camera: 'still',
        archive: /^still\//,
        reason: 'duplicate',
        distance: Number,
        sameAs: /^still\//,
      },
      'a repeated still scene is skipped, naming the clip it repeats',
    );
    const skippedFile = (duplicate.json as { archive: string }).archive;
    t.ok(
      results('still').some((r) => r.archive === (duplicate.json as { sameAs: string }).sameAs),
      'the clip it repeats was analysed',
    );
    t.notOk(
      results('still').some((r) => r.archive === skippedFile),
      'no result for the skipped clip',
    );
    const finishedMoving = () =>
      events()
        .filter((e) => e.type === 'archive.finished' && e.camera === 'cam1')
        .map((e) => (e as { file?: string }).file!);
    await watcher.waitFor(() => finishedMoving().length >= 3, 60_000);
    const firstThree = finishedMoving().slice(0, 3);
    await watcher.waitFor(() => firstThree.every((f) => results('cam1').some((r) => r.archive === f)), 60_000);
    t.pass('the first three moving clips were all analysed');
    t.equal(
      events().filter((e) => e.type === 'analysis.skipped' && e.camera === 'cam1').length,
      0,
      'no moving clip skipped',
    );

    const call = (camera: string) => gemini.generateCalls.filter((c) => c.displayName.startsWith(`${camera} `));
    t.ok(
      call('cam1').length >= 3 &&
        call('cam1').every((c) => c.fps === 0.5 && c.mediaResolution === 'MEDIA_RESOLUTION_LOW'),
      'moving camera: the global 0.5 fps, low',
    );
    t.ok(
      call('still').length >= 1 &&
        call('still').every((c) => c.fps === 0.25 && c.mediaResolution === 'MEDIA_RESOLUTION_MEDIUM'),
      'still camera: its own 0.25 fps, medium',
    );
    t.notOk(
      [...gemini.files.values()].some((f) => f.displayName === `still ${path.basename(skippedFile)}`),
      'the skipped clip was never uploaded',
    );
    t.same(gemini.problems, []);
  },
);
