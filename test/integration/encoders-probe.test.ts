/** `edge-agent probe` and probeReport: a fixture Pi 4 with a webcam, and this machine through the real CLI. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { formatProbeReport, probeReport, probeSettings } from '../../agent/cli/probe.js';
import { runCommand, type CommandRunner } from '../../agent/util/run.js';
import { fakeV4l2Ctl } from '../fixtures/device/v4l2/fake-v4l2ctl.js';
import { agentConfig } from '../helpers/config.js';
import { agentCliArgs } from '../helpers/cli.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const nul = (s: string): string => `${s}\0`;

const config = agentConfig({
  cameras: [{ id: 'cam1', source: 'auto', width: 320, height: 240, fps: 30 }],
  encoder: { bitrateKbps: 400 },
});

t.test(
  'a Pi 4 with a C920: the camera, the Pi ladder refused for want of the encoder node, libx264 working',
  async (t) => {
    const usb = t.fixture('symlink', '../../../devices/usb1/1-2/1-2:1.0');
    const root = t.testdir({
      proc: {
        'device-tree': {
          model: nul('Raspberry Pi 4 Model B Rev 1.4'),
          compatible: `${nul('raspberrypi,4-model-b')}${nul('brcm,bcm2711')}`,
        },
      },
      sys: {
        devices: { usb1: { '1-2': { '1-2:1.0': {} } } },
        class: { video4linux: { video0: { name: 'HD Pro Webcam C920\n', index: '0\n', device: usb } } },
      },
      dev: {
        v4l: { 'by-id': { 'usb-046d_HD_Pro_Webcam_C920_8B1C2A3F-video-index0': t.fixture('symlink', '../../video0') } },
      },
    });
    const v4l2 = fakeV4l2Ctl({ '/dev/video0': 'uvc-c920' });
    // v4l2-ctl answers from recordings; FFmpeg is real.
    const run: CommandRunner = (cmd, args, opts) =>
      cmd === 'v4l2-ctl' ? v4l2.run(cmd, args, opts) : runCommand(cmd, args, opts);
    const report = await probeReport({ config, root, run });
    t.match(report.board, { family: 'pi-legacy', model: 'Raspberry Pi 4 Model B Rev 1.4' });
    t.same(
      report.cameras.map((c) => [c.device, c.byId, c.name]),
      [['/dev/video0', '/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_8B1C2A3F-video-index0', 'HD Pro Webcam C920']],
    );
    const names = report.encoders.map((e) => e.name);
    t.same(names.slice(0, 2), ['rpicam-h264', 'h264_v4l2m2m'], 'the board ladder first');
    t.equal(names.at(-1), 'libx264', 'libx264 last');
    t.ok(names.includes('h264_nvenc'), 'encoders FFmpeg lists beyond the ladder are tested too');
    for (const e of report.encoders) {
      if (e.name === 'libx264') t.same(e, { name: 'libx264', where: 'ffmpeg', works: true });
      else t.match(e, { works: false, reason: /\S/ }, `${e.name} refused with a reason`);
    }
    t.match(report.encoders[0], { where: 'producer', reason: /no video4linux encoder node/ });
    const text = formatProbeReport(report, probeSettings(config));
    t.match(text, /\/dev\/video0 {2}HD Pro Webcam C920 \[uvcvideo\]/);
    t.match(text, /MJPG: 640x480@30\/15 {2}800x600@30 {2}1280x720@60\/30\/15/);
    t.match(text, /test encode at 320x240@30, 400 kb\/s, keyframe every 1 s/);
    t.match(text, /works {2}libx264/);
  },
);

t.test('edge-agent probe --json on this machine: exit 0, board, cameras, encoders with reasons', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath, [...agentCliArgs(), 'probe', '--json'], {
    cwd: repo,
    env: { ...process.env, EDGE_AGENT_CONFIG: '' },
    timeout: 120_000,
  });
  const report = JSON.parse(stdout) as {
    board: { family: string };
    cameras: unknown[];
    encoders: Array<{ name: string; works: boolean; reason?: string }>;
  };
  t.same(Object.keys(report), ['board', 'cameras', 'encoders']);
  t.ok(Array.isArray(report.cameras));
  const x264 = report.encoders.find((e) => e.name === 'libx264');
  t.same(x264, { name: 'libx264', where: 'ffmpeg', works: true });
  for (const e of report.encoders.filter((e) => !e.works)) t.ok(e.reason, `${e.name} says why not`);
});

t.test('edge-agent probe (text) exits 0 and lists libx264 as working', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath, [...agentCliArgs(), 'probe'], {
    cwd: repo,
    timeout: 120_000,
  });
  t.match(stdout, /^board: /);
  t.match(stdout, /H\.264 encoders/);
  t.match(stdout, /works {2}libx264/);
});
