/**
 * `set-config` `{"set": {"key.path": value}}` → `{changed: [keys]}`. The config service validates
 * the whole result, applies it, checks the agent's health and only then persists it; invalid →
 * error, nothing changed; failed check → `config_reverted`, the previous config restored.
 */
import { AgentError } from '../contract/errors.js';
import { allowOnly, isObject } from './schema.js';
import type { CommandDeps, CommandSpec } from './types.js';

// `a.b`, `cameras[0].fps` or `cameras.0.fps`; the config module decides which keys exist.
const KEY = /^[A-Za-z0-9_]{1,64}(?:\.[A-Za-z0-9_]{1,64}|\[\d{1,3}\])*$/;
// Guard the path walker in applySets against prototype pollution whatever it does itself.
const FORBIDDEN = /(^|\.)(__proto__|prototype|constructor)(\.|\[|$)/;
const MAX_KEYS = 64;

/** The set-config command; the config service applies concurrent requests one after the other. */
export function setConfigCommand(deps: CommandDeps): CommandSpec<Record<string, unknown>> {
  return {
    parse: (body) => {
      allowOnly(body, ['set']);
      const sets = body.set;
      if (!isObject(sets)) throw new AgentError('bad_request', 'set must be an object of "key.path": value');
      const keys = Object.keys(sets);
      if (keys.length === 0 || keys.length > MAX_KEYS) {
        throw new AgentError('bad_request', `set must name between 1 and ${MAX_KEYS} keys, got ${keys.length}`);
      }
      for (const key of keys) {
        if (!KEY.test(key) || FORBIDDEN.test(key)) {
          throw new AgentError('bad_request', `set key ${JSON.stringify(key).slice(0, 80)} is not a config key path`);
        }
      }
      return { ...sets };
    },
    run: async (sets, context) => {
      const { changed } = await deps.config.set(sets, { signed: context.signed });
      return { changed };
    },
  };
}
