/** The one AgentConfig of in-process tests: the schema's defaults under a test's overrides. */
import type { AgentConfig } from '../../agent/config/types.js';
import { validateConfig } from '../../agent/config/validate.js';

/** What a test changes: any sections, each with any of its keys (cameras as a whole list). */
export type ConfigOverrides = {
  [K in keyof AgentConfig]?: AgentConfig[K] extends unknown[]
    ? unknown[]
    : AgentConfig[K] extends object
      ? Partial<AgentConfig[K]>
      : AgentConfig[K];
};

/**
 * A complete config as the agent would load it from a file holding `overrides`: every key the
 * test leaves out has the schema's default, and the whole is validated, so a test config can
 * neither miss a key added later nor hold a value the agent would refuse. The device id is
 * fixed, since its default (the host name) would differ from machine to machine.
 */
export function agentConfig(overrides: ConfigOverrides = {}): AgentConfig {
  return validateConfig({ ...overrides, device: { id: 'test-device', ...overrides.device } });
}
