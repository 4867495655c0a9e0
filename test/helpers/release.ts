/** Fake releases shaped like deploy/pack.sh's, for installer tests (release.test.ts installs the real one). */
import { chmodSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { arch } from 'node:os';
import { join } from 'node:path';
import { ROOT as repo } from './agentProcess.js';

/**
 * A fake release of version `version` in pack.sh's shape: bin/edge-agent, a "runtime" that is
 * this Node, and a cli.js answering the commands install.sh runs (version, config check, config
 * paths). `rejectConfig` makes its config check fail, as a release that cannot read the board's config.
 */
export function makeRelease(dir: string, version: string, options: { rejectConfig?: boolean } = {}): string {
  const rel = join(dir, `rel-${version}`);
  mkdirSync(join(rel, 'dist/agent'), { recursive: true });
  mkdirSync(join(rel, 'runtime/bin'), { recursive: true });
  mkdirSync(join(rel, 'node_modules'), { recursive: true });
  writeFileSync(join(rel, 'package.json'), JSON.stringify({ name: 'edge-camera-agent', version, type: 'module' }));
  writeFileSync(
    join(rel, 'release.env'),
    `VERSION=${version}\nARCH=${arch() === 'arm64' ? 'arm64' : 'x64'}\nRUNTIME=test\n`,
  );
  writeFileSync(join(rel, 'runtime/bin/node'), `#!/bin/sh\nexec ${process.execPath} "$@"\n`);
  chmodSync(join(rel, 'runtime/bin/node'), 0o755);
  writeFileSync(
    join(rel, 'dist/agent/cli.js'),
    FAKE_CLI.replace('VERSION', JSON.stringify(version)).replace('REJECT', String(Boolean(options.rejectConfig))),
  );
  cpSync(join(repo, 'systemd'), join(rel, 'systemd'), { recursive: true });
  cpSync(join(repo, 'deploy'), join(rel, 'deploy'), { recursive: true });
  mkdirSync(join(rel, 'bin'), { recursive: true });
  cpSync(join(repo, 'deploy/lib/launcher.sh'), join(rel, 'bin/edge-agent'));
  chmodSync(join(rel, 'bin/edge-agent'), 0o755);
  return rel;
}

const FAKE_CLI = `import { readFileSync } from 'node:fs';
const [cmd, sub, ...rest] = process.argv.slice(2);
if (cmd === 'version') console.log(VERSION);
else if (cmd === 'config' && sub === 'check') process.exit(REJECT ? 2 : 0);
else if (cmd === 'config' && sub === 'paths') {
  const c = JSON.parse(readFileSync(rest[rest.indexOf('--config') + 1], 'utf8'));
  console.log([c.dataDir ?? '/var/lib/edge-agent', c.archive?.dir ?? '/var/lib/edge-agent/archive', c.hls?.dir ?? '/run/edge-agent/hls'].join('\\n'));
} else console.log(VERSION, ...process.argv.slice(2));
`;
