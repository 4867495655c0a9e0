/**
 * A child process running the MQTT link the way main.ts wires it, with fake pipeline, archives
 * and config, so tests can kill -9 it. Driven over IPC (see linkProcess.ts). Once the real agent
 * (`edge-agent run`) is complete, tests can spawn that instead.
 */
import { readFileSync } from 'node:fs';
import { createCommands } from '../../agent/commands/index.js';
import type { AgentConfig } from '../../agent/config/types.js';
import type { AgentEventType, AgentEvents } from '../../agent/contract/events.js';
import { buildTopics, isSafeReplyTopic } from '../../agent/contract/topics.js';
import { HealthCollector } from '../../agent/health/collector.js';
import { MqttLink } from '../../agent/link/mqttLink.js';
import { LinkPublisher } from '../../agent/link/publisher.js';
import { CommandRouter } from '../../agent/link/router.js';
import { SignatureVerifier } from '../../agent/link/signature.js';
import { Outbox } from '../../agent/outbox/outbox.js';
import { openStore } from '../../agent/store/store.js';
import { EventBus } from '../../agent/util/bus.js';
import { createRootLogger } from '../../agent/util/logger.js';
import { Sensors } from '../../device/sensors.js';
import { FakeConfig, fakeCommandDeps, fakeRedact } from './agentFakes.js';

/** The harness input, a JSON file named by argv[2]. */
export interface HarnessInput {
  config: AgentConfig;
  password: string | null;
  commandKey: string | null;
  reconnect?: { initialMs?: number; maxMs?: number };
  embeddedPort?: number;
  outboxCap?: number;
  /** Environment variables set in the link process before it starts (e.g. CREDENTIALS_DIRECTORY). */
  env?: Record<string, string>;
  protocolVersion?: 4 | 5;
}

/** Messages the parent sends. */
export type HarnessRequest =
  | { op: 'emit'; type: AgentEventType; payload: AgentEvents[AgentEventType] }
  | { op: 'analysis'; result: Record<string, unknown> }
  | { op: 'state' }
  | { op: 'stop' };

async function main(): Promise<void> {
  const input = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as HarnessInput;
  Object.assign(process.env, input.env ?? {});
  const log = createRootLogger(process.env.EDGE_AGENT_LOG_LEVEL ?? 'warn');
  const config = new FakeConfig(input.config);
  const { deps } = fakeCommandDeps(config);
  const bus = new EventBus();
  const db = openStore(input.config.dataDir);
  const outbox = new Outbox({ db, log, cap: input.outboxCap });
  outbox.start();
  const router = new CommandRouter({
    commands: createCommands(deps),
    log,
    replyTopicAllowed: (topic) =>
      isSafeReplyTopic(buildTopics(config.current().mqtt.topicPrefix, config.current().device.id), topic),
    verifier: new SignatureVerifier({
      key: () => input.commandKey,
      deviceId: () => config.current().device.id,
      requireScoped: () => config.current().mqtt.requireScopedSignatures,
    }),
  });
  const link = new MqttLink({
    config: () => config.current(),
    password: () => input.password,
    log,
    version: deps.version,
    startedAt: deps.startedAt,
    outbox,
    router,
    reconnect: input.reconnect,
    embeddedPort: input.embeddedPort,
    protocolVersion: input.protocolVersion,
  });
  const health = new HealthCollector({
    config: () => config.current(),
    pipeline: deps.pipeline,
    sensors: new Sensors(),
    extra: () => ({ mqtt: link.status() }),
  });
  const publisher = new LinkPublisher({
    link,
    outbox,
    bus,
    health,
    config: () => config.current(),
    redact: fakeRedact,
    log,
  });
  publisher.start();
  await link.start();
  link.onConnect(() => process.send?.({ op: 'connected' }));

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    publisher.stop();
    await link.stop();
    outbox.stop();
    db.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('message', (message: HarnessRequest) => {
    if (message.op === 'emit') bus.emit(message.type, message.payload as never);
    else if (message.op === 'analysis') publisher.publishAnalysis(message.result as never);
    else if (message.op === 'state') {
      process.send?.({
        op: 'state',
        config: config.current(),
        sets: config.sets,
        link: link.status(),
        outbox: outbox.stats(),
      });
    } else if (message.op === 'stop') void stop();
  });
  process.send?.({ op: 'ready' });
}

main().catch((error: Error) => {
  process.stderr.write(`link harness failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
