/**
 * CSI cameras whose encoder runs inside the capture producer (rpicam-vid --codec h264 on a Pi 4,
 * nvv4l2h264enc in a GStreamer producer on a Jetson), with the stand-ins of test/helpers/
 * standins.ts on a board's device tree: when that encoder cannot run, the camera falls back to
 * raw capture and the next encoder (encoder.fallback, never camera.lost), and records. The
 * Jetson path also runs as it does on a board with NVENC: FFmpeg copying the producer's H.264.
 */
import path from 'node:path';
import t, { type Test } from 'tap';
import { AgentProcess, testConfig } from '../helpers/agentProcess.js';
import { fakeBoard, fakeGstLaunch, fakeRpicamVid } from '../helpers/standins.js';
import { spawnSync } from 'node:child_process';

const NO_GST =
  spawnSync('gst-launch-1.0', ['--version']).status === 0
    ? false
    : 'GStreamer is not installed (test/setup-machine.sh installs it)';

function startOnBoard(
  t: Test,
  board: Parameters<typeof fakeBoard>[1],
  prefer: string[],
  standIn: (bin: string, tag: string) => void,
): AgentProcess {
  const dir = t.testdir();
  const host = path.join(dir, 'host');
  const bin = path.join(dir, 'bin');
  fakeBoard(host, board);
  standIn(bin, `standin ${dir}`);
  const config = testConfig(dir, { encoder: { prefer, bitrateKbps: 400 } });
  config.cameras = [{ id: 'cam1', source: 'csi', width: 320, height: 240, fps: 10 }];
  const agent = AgentProcess.start(dir, config, {
    EDGE_AGENT_HOST_ROOT: host,
    EDGE_AGENT_TRUST_ENCODERS: '1',
    PATH: `${bin}:${process.env.PATH ?? ''}`,
  });
  t.teardown(() => agent.stop());
  return agent;
}

async function fallsBackAndRecords(t: Test, agent: AgentProcess, from: string, rawSource: RegExp): Promise<void> {
  const [first] = await agent.waitEvent('pipeline.started', 1, 60_000);
  t.equal(first!.encoder, from, `starts with the camera-side encoder ${from}`);
  const [fallback] = await agent.waitEvent('encoder.fallback', 1, 30_000);
  t.match(fallback, { from, to: 'libx264' }, `encoder.fallback ${from} → libx264 (${String(fallback!.reason)})`);
  const second = (await agent.waitEvent('pipeline.started', 2, 60_000))[1];
  t.equal(second!.encoder, 'libx264');
  t.match(String(second!.source), rawSource, 'raw frames from the producer, encoded by FFmpeg');
  await agent.waitEvent('archive.finished', 1, 60_000);
  t.equal(agent.events('camera.lost').length, 0, 'a failing encoder is not a lost camera');
  t.equal(agent.events('encoder.fallback').length, 1, 'one step down, then it stays');
}

t.test('Pi 4 CSI: rpicam-vid --codec h264 without its encoder falls back to raw YUV420 + libx264', async (t) => {
  const agent = startOnBoard(t, 'pi4', ['rpicam-h264', 'libx264'], (bin, tag) =>
    fakeRpicamVid(bin, tag, { h264Encoder: false }),
  );
  await fallsBackAndRecords(t, agent, 'rpicam-h264', /^csi:0 rpicam-vid 320x240@10 yuv420$/);
});

t.test('Jetson CSI: nvv4l2h264enc without NVENC falls back to raw I420 + libx264', { skip: NO_GST }, async (t) => {
  const agent = startOnBoard(t, 'jetson-orin-nx', ['nvv4l2h264enc', 'libx264'], (bin, tag) =>
    fakeGstLaunch(bin, tag, { nvenc: false }),
  );
  await fallsBackAndRecords(t, agent, 'nvv4l2h264enc', /^csi:0 nvarguscamerasrc 320x240@10 i420$/);
});

t.test(
  "Jetson CSI with NVENC: FFmpeg copies the GStreamer producer's H.264 into HLS and archives",
  { skip: NO_GST },
  async (t) => {
    const agent = startOnBoard(t, 'jetson-orin-nx', ['nvv4l2h264enc', 'libx264'], (bin, tag) =>
      fakeGstLaunch(bin, tag, { nvenc: true }),
    );
    const [started] = await agent.waitEvent('pipeline.started', 1, 60_000);
    t.equal(started!.encoder, 'nvv4l2h264enc');
    t.match(String(started!.source), /h264 \(nvv4l2h264enc\)$/);
    const archives = await agent.waitEvent('archive.finished', 3, 60_000);
    t.ok(
      Number(archives[0]!.seconds) > 0,
      `an archive from the copied stream: ${String(archives[0]!.file)} (${String(archives[0]!.seconds)} s)`,
    );
    t.equal(agent.events('encoder.fallback').length, 0, 'no fallback while NVENC works');
    // The producer's GOP is 1 s but not on the wall-clock grid: each archive after the first begins
    // at the first keyframe past its boundary (within a GOP, plus slack for a loaded machine), and
    // its name says when that was.
    for (const archive of archives.slice(1)) {
      const startMs = Date.parse(String(archive.start));
      t.ok(
        startMs % 4000 <= 1500,
        `${String(archive.file)} starts ${((startMs % 4000) / 1000).toFixed(2)} s after its boundary`,
      );
      t.match(
        String(archive.file),
        new Date(Math.floor(startMs / 1000) * 1000)
          .toISOString()
          .replace(/[-:]/g, '')
          .replace(/\.\d+Z$/, 'Z'),
        'named by its actual start',
      );
    }
  },
);
