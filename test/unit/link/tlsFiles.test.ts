/** TLS file lifetimes and the checked re-read (agent/link/tlsFiles.ts), and the doctor's lines for them. */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { checkTls } from '../../../agent/doctor/checks/tls.js';
import type { DoctorContext } from '../../../agent/doctor/types.js';
import { certificateExpiry, readTlsMaterial, tlsExpiry } from '../../../agent/link/tlsFiles.js';
import { makeCa, makeCert } from '../../helpers/certs.js';
import { agentConfig } from '../../helpers/config.js';

const DAY = 86_400_000;

t.test('days left; warn under 30; expired; the first to expire in a bundle', async (t) => {
  const dir = t.testdir();
  const ca = makeCa(dir, 'ca', 400);
  const soon = makeCert(dir, 'soon', 'edge-soon', 12, ca);
  const now = Date.now();
  t.match(certificateExpiry(soon.crt, now), { file: soon.crt, subject: 'CN=edge-soon', daysLeft: 11, status: 'warn' });
  t.match(certificateExpiry(ca.crt, now), { daysLeft: 399, status: 'ok' });
  t.match(certificateExpiry(soon.crt, now + 13 * DAY), { daysLeft: -2, status: 'expired' });
  const bundle = join(dir, 'bundle.pem');
  writeFileSync(
    bundle,
    `${(await import('node:fs')).readFileSync(ca.crt, 'utf8')}${(await import('node:fs')).readFileSync(soon.crt, 'utf8')}`,
  );
  t.match(
    certificateExpiry(bundle, now),
    { subject: 'CN=edge-soon', status: 'warn' },
    'a bundle reports its first to expire',
  );
  t.match(certificateExpiry(join(dir, 'missing.crt')), {
    error: /cannot read a certificate from .*missing\.crt: no such file/,
  });
  writeFileSync(join(dir, 'junk.crt'), 'not a certificate');
  t.match(certificateExpiry(join(dir, 'junk.crt')), { error: /no PEM certificate/ });
  t.equal(tlsExpiry({ ca: null, cert: null }), null, 'no TLS files: nothing to report');
  t.same(Object.keys(tlsExpiry({ ca: ca.crt, cert: null })!), ['ca']);
});

t.test('the re-read refuses a half-done replacement, naming the file', async (t) => {
  const dir = t.testdir();
  const ca = makeCa(dir, 'ca', 400);
  const a = makeCert(dir, 'a', 'edge-a', 100, ca);
  const b = makeCert(dir, 'b', 'edge-b', 100, ca);
  const material = readTlsMaterial({ ca: ca.crt, cert: a.crt, key: a.key });
  t.ok(material.ca && material.cert && material.key);
  t.throws(() => readTlsMaterial({ ca: ca.crt, cert: b.crt, key: a.key }), {
    code: 'config_invalid',
    message: /mqtt\.cert .*b\.crt does not match the private key in mqtt\.key .*a\.key/,
  });
  writeFileSync(join(dir, 'half.crt'), (await import('node:fs')).readFileSync(a.crt, 'utf8').slice(0, 100));
  t.throws(() => readTlsMaterial({ ca: null, cert: join(dir, 'half.crt'), key: a.key }), {
    code: 'config_invalid',
    message: /mqtt\.cert .*half\.crt/,
  });
  copyFileSync(a.crt, join(dir, 'notakey.pem'));
  t.throws(() => readTlsMaterial({ ca: null, cert: a.crt, key: join(dir, 'notakey.pem') }), {
    code: 'config_invalid',
    message: /mqtt\.key/,
  });
  t.throws(() => readTlsMaterial({ ca: join(dir, 'gone.crt'), cert: null, key: null }), {
    code: 'config_invalid',
    message: /mqtt\.ca cannot be read/,
  });
});

t.test('doctor: one line per configured file, warn under 30 days, fail when expired or unreadable', async (t) => {
  const dir = t.testdir();
  const ca = makeCa(dir, 'ca', 400);
  const soon = makeCert(dir, 'soon', 'edge-soon', 12, ca);
  const config = agentConfig();
  const ctx = { config } as DoctorContext;
  t.same(await checkTls(ctx), [], 'embedded: nothing');
  config.mqtt.url = 'mqtts://broker.example:8883';
  t.same(await checkTls(ctx), [], 'no files configured: nothing');
  config.mqtt.ca = ca.crt;
  config.mqtt.cert = soon.crt;
  const [caLine, certLine] = await checkTls(ctx);
  t.match(caLine, { name: 'tls ca', status: 'ok', detail: /CN=ca\) expires \d{4}-\d\d-\d\d \(399 days left\)/ });
  t.match(certLine, {
    name: 'tls client cert',
    status: 'warn',
    detail: /CN=edge-soon\) expires .*\(11 days left\): under 30 days/,
    fix: /no restart needed/,
  });
  config.mqtt.cert = join(dir, 'missing.crt');
  t.match((await checkTls(ctx))[1], { status: 'fail', detail: /missing\.crt/ });
});
