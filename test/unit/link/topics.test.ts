import t from 'tap';
import { buildTopics, commandName, homeAssistantTopics, isSafeReplyTopic } from '../../../agent/contract/topics.js';

const topics = buildTopics('edge', 'gate-01');

t.test('topics under R = <prefix>/<device id>', async (t) => {
  t.same(
    [
      topics.status,
      topics.health,
      topics.events,
      topics.analysis,
      topics.analysisBudget,
      topics.config,
      topics.commandFilter,
      topics.command('ping'),
    ],
    [
      'edge/gate-01/status',
      'edge/gate-01/health',
      'edge/gate-01/events',
      'edge/gate-01/analysis',
      'edge/gate-01/analysis/budget',
      'edge/gate-01/config',
      'edge/gate-01/cmd/+',
      'edge/gate-01/cmd/ping',
    ],
  );
});

const names: Array<[string, string, string | null]> = [
  ['a command topic', 'edge/gate-01/cmd/ping', 'ping'],
  ['an empty name is still a command topic (refused later as unknown)', 'edge/gate-01/cmd/', ''],
  ['deeper levels are not commands', 'edge/gate-01/cmd/a/b', null],
  ['another device', 'edge/gate-02/cmd/ping', null],
  ['not under cmd', 'edge/gate-01/status', null],
];
for (const [name, topic, expected] of names) t.equal(commandName(topics, topic), expected, name);

const replies: Array<[string, string, boolean]> = [
  ['a reply topic under R', 'edge/gate-01/reply/42', true],
  ['a back-end topic', 'fleet/replies/x', true],
  ['a wildcard', 'fleet/+/x', false],
  ['our own status', 'edge/gate-01/status', false],
  ['a command topic (would loop)', 'edge/gate-01/cmd/set-config', false],
  ['empty', '', false],
  // Found by the reliability suite's MQTT fuzzer: Mosquitto disconnects a publisher for these.
  ['a newline', 'fleet/replies/a\nb', false],
  ['a C1 control character', 'fleet/replies/\u0085', false],
  ['non-ASCII letters are fine', 'fleet/réponses/中', true],
  // Issue 15: replies went to any topic, another device's cmd topic included.
  ["another device's command topic", 'edge/gate-02/cmd/set-config', false],
  ["another device's reply prefix", 'edge/gate-02/reply/1', false],
  ["another device's status", 'edge/gate-02/status', false],
  ['our own tree outside reply/', 'edge/gate-01/anything', false],
  ['the reply prefix itself, empty', 'edge/gate-01/reply/', false],
  ['deeper under our reply prefix', 'edge/gate-01/reply/backend/7', true],
  ['the fleet prefix itself', 'edge', false],
  ['a $SYS topic', '$SYS/broker/x', false],
  ['a topic merely starting with the prefix text', 'edgeless/replies/1', true],
];
for (const [name, topic, expected] of replies)
  t.equal(isSafeReplyTopic(topics, topic), expected, `reply topic: ${name}`);

t.test("Home Assistant's topics: its discovery prefix, the device id made an object id", async (t) => {
  t.same(homeAssistantTopics('gate.01'), {
    discovery: 'homeassistant/device/gate_01/config',
    status: 'homeassistant/status',
  });
  t.same(homeAssistantTopics('yard-cam_2', 'ha'), {
    discovery: 'ha/device/yard-cam_2/config',
    status: 'ha/status',
  });
});
