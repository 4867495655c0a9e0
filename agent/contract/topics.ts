/** Every MQTT topic the agent uses, built in one place from `mqtt.topicPrefix` and `device.id`. */
import type { TopicPayloads } from './messages.js';

/** A topic kind: a key of the topic → payload map. */
export type TopicKind = keyof TopicPayloads;

declare const topicKind: unique symbol;

/**
 * A topic string that carries its kind, so the link and the outbox can type its payload by
 * TopicPayloads: a wrong payload for a topic fails to type-check. Only this file makes them.
 */
export type Topic<K extends TopicKind> = string & { readonly [topicKind]: K };

function asTopic<K extends TopicKind>(text: string): Topic<K> {
  return text as Topic<K>;
}

/** The fixed topics of one device under `R = <prefix>/<device id>`. */
export interface Topics {
  /** `<mqtt.topicPrefix>`: every device's `R` lies under `<prefix>/`. */
  prefix: string;
  /** `R` itself. */
  root: string;
  /** `R/reply/`: the documented reply prefix of this device (replies may go there, or outside `<prefix>/`). */
  replyPrefix: string;
  status: Topic<'status'>;
  health: Topic<'health'>;
  events: Topic<'events'>;
  analysis: Topic<'analysis'>;
  /** `R/analysis/budget`: the retained daily budget of the analysis module. */
  analysisBudget: Topic<'analysisBudget'>;
  config: Topic<'config'>;
  /** `R/config/desired`: the back end's retained desired config. */
  configDesired: Topic<'configDesired'>;
  /** `R/config/reported`: the agent's retained answer to it. */
  configReported: Topic<'configReported'>;
  /** `R/release`: the agent's retained release and update report. */
  release: Topic<'release'>;
  /** `R/release/desired`: the back end's retained desired release (the `update` command's body). */
  releaseDesired: Topic<'releaseDesired'>;
  /** The subscription filter for commands: `R/cmd/+`. */
  commandFilter: string;
  /** `R/cmd/<name>`. */
  command(name: string): Topic<'command'>;
  /** `R/snapshot/<camera>`: JPEG bytes for Home Assistant's MQTT camera (retained). */
  snapshot(camera: string): Topic<'snapshot'>;
}

/** Builds the topics of a device; prefix and id must be non-empty and free of wildcards and slashes (id). */
export function buildTopics(prefix: string, deviceId: string): Topics {
  const root = `${prefix}/${deviceId}`;
  return {
    prefix,
    root,
    replyPrefix: `${root}/reply/`,
    status: asTopic(`${root}/status`),
    health: asTopic(`${root}/health`),
    events: asTopic(`${root}/events`),
    analysis: asTopic(`${root}/analysis`),
    analysisBudget: asTopic(`${root}/analysis/budget`),
    config: asTopic(`${root}/config`),
    configDesired: asTopic(`${root}/config/desired`),
    configReported: asTopic(`${root}/config/reported`),
    release: asTopic(`${root}/release`),
    releaseDesired: asTopic(`${root}/release/desired`),
    commandFilter: `${root}/cmd/+`,
    command: (name) => asTopic(`${root}/cmd/${name}`),
    snapshot: (camera) => asTopic(`${root}/snapshot/${camera}`),
  };
}

/** The command name of a topic under `R/cmd/`, or null when the topic is not a command topic. */
export function commandName(topics: Topics, topic: string): string | null {
  const head = `${topics.root}/cmd/`;
  if (!topic.startsWith(head)) return null;
  const name = topic.slice(head.length);
  return name.includes('/') ? null : name;
}

/**
 * Whether a reply may be sent to this topic. The reply prefix is `R/reply/`; a topic outside the
 * fleet's tree (`<prefix>/`) is allowed too, since the contract lets a client name its own inbox
 * (`replies/…`) and the broker's ACL confines the board there. Anything else under `<prefix>/` is
 * refused: our own status, config and cmd topics (no self-feeding, no spoofed status) and every
 * other device's tree (a reply must never land on another board's `cmd/`). Never a wildcard,
 * a `$` topic or a control character either.
 */
export function isSafeReplyTopic(topics: Topics, topic: string): topic is Topic<'reply'> {
  if (topic.length === 0 || topic.length > 1024 || topic.startsWith('$')) return false;
  // Control characters: Mosquitto drops a client that publishes to such a topic, and MQTT.js then
  // re-sends that same reply after every reconnect, so one crafted replyTo would cut the link for good.
  if (/[+#\u0000-\u001f\u007f-\u009f]/.test(topic)) return false;
  if (topic.startsWith(topics.replyPrefix)) return topic.length > topics.replyPrefix.length;
  return !(topic === topics.prefix || topic.startsWith(`${topics.prefix}/`));
}

/** Home Assistant's fixed topics (its default discovery prefix) for one device. */
export interface HomeAssistantTopics {
  /** `homeassistant/device/<object id>/config`: the retained single-payload device discovery. */
  discovery: Topic<'homeAssistantDiscovery'>;
  /** `homeassistant/status`: Home Assistant's birth (`online`) and will (`offline`). */
  status: string;
}

/** Home Assistant's topics; a device id's dots (allowed in device.id, not in an object id) become `_`. */
export function homeAssistantTopics(deviceId: string, prefix = 'homeassistant'): HomeAssistantTopics {
  return {
    discovery: asTopic(`${prefix}/device/${deviceId.replace(/[^A-Za-z0-9_-]/g, '_')}/config`),
    status: `${prefix}/status`,
  };
}
