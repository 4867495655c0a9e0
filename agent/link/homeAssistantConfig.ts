/**
 * The Home Assistant device-discovery payload (issue 19), a pure builder: one retained JSON
 * document on `homeassistant/device/<device id>/config` describes the board and every entity,
 * in HA's single-payload device form (`device`, `origin`, `components` with a `platform` and a
 * `unique_id` each). States come from topics the agent already publishes: `R/status` for
 * availability, `R/health` for the sensors; the cameras from `R/snapshot/<camera>` (JPEG bytes).
 */
import type { HomeAssistantComponent, HomeAssistantDiscoveryMessage } from '../contract/messages.js';
import type { Topics } from '../contract/topics.js';

/** What the payload is built from. */
export interface DiscoveryInput {
  deviceId: string;
  version: string;
  topics: Topics;
  cameras: string[];
}

/** A frame older than this shows the camera as down (the /healthz bound). */
const STALE_FRAME_SECONDS = 5;

/** A Jinja template over R/health that renders `expr` for one camera (`c`). */
function perCamera(camera: string, expr: string): string {
  // Camera ids are letters, digits, _ and - (config/cameras.ts): safe inside a quoted literal.
  return `{% for c in value_json.cameras if c.camera == "${camera}" %}${expr}{% endfor %}`;
}

/** HA's object ids allow only [a-zA-Z0-9_-]; device.id may hold dots. */
export function objectId(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** The components of one camera: its picture, fps, last-frame age, up, and a restart button. */
function cameraComponents(deviceKey: string, camera: string, topics: Topics): Record<string, HomeAssistantComponent> {
  const key = `${objectId(camera)}`;
  const id = (what: string) => `${deviceKey}_${key}_${what}`;
  const sensor = { platform: 'sensor', state_topic: topics.health, state_class: 'measurement' };
  return {
    [`${key}_camera`]: { platform: 'camera', name: camera, unique_id: id('camera'), topic: topics.snapshot(camera) },
    [`${key}_fps`]: {
      ...sensor,
      name: `${camera} fps`,
      unique_id: id('fps'),
      unit_of_measurement: 'fps',
      value_template: perCamera(camera, '{{ c.fps }}'),
    },
    [`${key}_last_frame_age`]: {
      ...sensor,
      name: `${camera} last frame age`,
      unique_id: id('last_frame_age'),
      device_class: 'duration',
      unit_of_measurement: 's',
      value_template: perCamera(
        camera,
        '{{ c.lastFrameAgeSeconds if c.lastFrameAgeSeconds is not none else "unknown" }}',
      ),
    },
    [`${key}_up`]: {
      platform: 'binary_sensor',
      name: `${camera} up`,
      unique_id: id('up'),
      device_class: 'running',
      state_topic: topics.health,
      value_template: perCamera(
        camera,
        `{{ "ON" if c.state == "running" and c.lastFrameAgeSeconds is not none and c.lastFrameAgeSeconds < ${STALE_FRAME_SECONDS} else "OFF" }}`,
      ),
    },
    [`${key}_restart`]: {
      platform: 'button',
      name: `${camera} restart pipeline`,
      unique_id: id('restart'),
      device_class: 'restart',
      entity_category: 'config',
      command_topic: topics.command('restart-pipeline'),
      payload_press: JSON.stringify({ camera }),
    },
  };
}

/** The board's sensors: SoC temperature, disk free, recording hours left. */
function boardComponents(deviceKey: string, topics: Topics): Record<string, HomeAssistantComponent> {
  const sensor = { platform: 'sensor', state_topic: topics.health, state_class: 'measurement' };
  return {
    temperature: {
      ...sensor,
      name: 'SoC temperature',
      unique_id: `${deviceKey}_temperature`,
      device_class: 'temperature',
      unit_of_measurement: '°C',
      value_template:
        '{{ value_json.maxTemperatureCelsius if value_json.maxTemperatureCelsius is not none else "unknown" }}',
    },
    disk_free: {
      ...sensor,
      name: 'Disk free',
      unique_id: `${deviceKey}_disk_free`,
      device_class: 'data_size',
      unit_of_measurement: 'B',
      value_template: '{{ value_json.disk.freeBytes if value_json.disk else "unknown" }}',
    },
    recording_hours_left: {
      ...sensor,
      name: 'Recording time left',
      unique_id: `${deviceKey}_recording_hours_left`,
      device_class: 'duration',
      unit_of_measurement: 'h',
      value_template: '{{ value_json.recordingHoursLeft if value_json.recordingHoursLeft is not none else "unknown" }}',
    },
  };
}

/** The whole discovery document for the current cameras. */
export function discoveryPayload(input: DiscoveryInput): HomeAssistantDiscoveryMessage {
  const deviceKey = `edge_agent_${objectId(input.deviceId)}`;
  const components: Record<string, HomeAssistantComponent> = {};
  for (const camera of input.cameras) Object.assign(components, cameraComponents(deviceKey, camera, input.topics));
  Object.assign(components, boardComponents(deviceKey, input.topics));
  return {
    device: {
      identifiers: [deviceKey],
      name: input.deviceId,
      manufacturer: 'edge-camera-agent',
      model: 'edge camera agent',
      sw_version: input.version,
    },
    origin: { name: 'edge-camera-agent', sw_version: input.version },
    availability: [
      {
        topic: input.topics.status,
        value_template: '{{ value_json.state }}',
        payload_available: 'online',
        payload_not_available: 'offline',
      },
    ],
    components,
  };
}

/**
 * The document that removes `gone` components (HA: a component reduced to its platform is
 * deleted), to be followed by the plain document without them.
 */
export function withRemovals(
  payload: HomeAssistantDiscoveryMessage,
  gone: Record<string, string>,
): HomeAssistantDiscoveryMessage {
  const removals = Object.fromEntries(Object.entries(gone).map(([id, platform]) => [id, { platform }]));
  return { ...payload, components: { ...payload.components, ...removals } };
}

/** Component id → platform, what must be remembered to remove them later. */
export function platformsOf(payload: HomeAssistantDiscoveryMessage): Record<string, string> {
  return Object.fromEntries(Object.entries(payload.components).map(([id, c]) => [id, c.platform]));
}
