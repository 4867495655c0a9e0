/** Every MQTT topic the agent uses, built in one place from `mqtt.topicPrefix` and `device.id`. */

/** The fixed topics of one device under `R = <prefix>/<device id>`. */
export interface Topics {
  /** `<mqtt.topicPrefix>`: every device's `R` lies under `<prefix>/`. */
  prefix: string;
  /** `R` itself. */
  root: string;
  /** `R/reply/`: the documented reply prefix of this device (replies may go there, or outside `<prefix>/`). */
  replyPrefix: string;
  status: string;
  health: string;
  events: string;
  analysis: string;
  /** `R/analysis/budget`: the retained daily budget of the analysis module. */
  analysisBudget: string;
  config: string;
  /** `R/config/desired`: the back end's retained desired config. */
  configDesired: string;
  /** `R/config/reported`: the agent's retained answer to it. */
  configReported: string;
  /** `R/release`: the agent's retained release and update report. */
  release: string;
  /** `R/release/desired`: the back end's retained desired release (the `update` command's body). */
  releaseDesired: string;
  /** The subscription filter for commands: `R/cmd/+`. */
  commandFilter: string;
  /** `R/cmd/<name>`. */
  command(name: string): string;
  /** `R/snapshot/<camera>`: JPEG bytes for Home Assistant's MQTT camera (retained). */
  snapshot(camera: string): string;
}

/** Builds the topics of a device; prefix and id must be non-empty and free of wildcards and slashes (id). */
export function buildTopics(prefix: string, deviceId: string): Topics {
  const root = `${prefix}/${deviceId}`;
  return {
    prefix,
    root,
    replyPrefix: `${root}/reply/`,
    status: `${root}/status`,
    health: `${root}/health`,
    events: `${root}/events`,
    analysis: `${root}/analysis`,
    analysisBudget: `${root}/analysis/budget`,
    config: `${root}/config`,
    configDesired: `${root}/config/desired`,
    configReported: `${root}/config/reported`,
    release: `${root}/release`,
    releaseDesired: `${root}/release/desired`,
    commandFilter: `${root}/cmd/+`,
    command: (name) => `${root}/cmd/${name}`,
    snapshot: (camera) => `${root}/snapshot/${camera}`,
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
export function isSafeReplyTopic(topics: Topics, topic: string): boolean {
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
  discovery: string;
  /** `homeassistant/status`: Home Assistant's birth (`online`) and will (`offline`). */
  status: string;
}

/** Home Assistant's topics; a device id's dots (allowed in device.id, not in an object id) become `_`. */
export function homeAssistantTopics(deviceId: string, prefix = 'homeassistant'): HomeAssistantTopics {
  return { discovery: `${prefix}/device/${deviceId.replace(/[^A-Za-z0-9_-]/g, '_')}/config`, status: `${prefix}/status` };
}
