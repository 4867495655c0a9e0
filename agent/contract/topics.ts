/** Every MQTT topic the agent uses, built in one place from `mqtt.topicPrefix` and `device.id`. */

/** The fixed topics of one device under `R = <prefix>/<device id>`. */
export interface Topics {
  /** `R` itself. */
  root: string;
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
  /** The subscription filter for commands: `R/cmd/+`. */
  commandFilter: string;
  /** `R/cmd/<name>`. */
  command(name: string): string;
}

/** Builds the topics of a device; prefix and id must be non-empty and free of wildcards and slashes (id). */
export function buildTopics(prefix: string, deviceId: string): Topics {
  const root = `${prefix}/${deviceId}`;
  return {
    root,
    status: `${root}/status`,
    health: `${root}/health`,
    events: `${root}/events`,
    analysis: `${root}/analysis`,
    analysisBudget: `${root}/analysis/budget`,
    config: `${root}/config`,
    configDesired: `${root}/config/desired`,
    configReported: `${root}/config/reported`,
    commandFilter: `${root}/cmd/+`,
    command: (name) => `${root}/cmd/${name}`,
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
 * Whether a reply may be sent to this topic: never a wildcard or a control character, and never onto one of our own
 * topics, so a crafted `replyTo` cannot make the agent feed itself a command or spoil its status.
 */
export function isSafeReplyTopic(topics: Topics, topic: string): boolean {
  if (topic.length === 0 || topic.length > 1024) return false;
  // Control characters: Mosquitto drops a client that publishes to such a topic, and MQTT.js then
  // re-sends that same reply after every reconnect, so one crafted replyTo would cut the link for good.
  if (/[+#\u0000-\u001f\u007f-\u009f]/.test(topic)) return false;
  const own = [topics.status, topics.health, topics.events, topics.analysis, topics.analysisBudget, topics.config, topics.configDesired, topics.configReported];
  if (own.includes(topic)) return false;
  return !topic.startsWith(`${topics.root}/cmd/`) && topic !== `${topics.root}/cmd`;
}
