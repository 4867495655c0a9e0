/**
 * The device layer's one error: a camera source this board cannot have, or a producer encoder
 * paired with a source that has none. Its `code` matches the agent's error code of the same
 * meaning, so the agent reports it as its own without the device layer importing the agent.
 */
export class SourceUnavailableError extends Error {
  readonly code = 'source_unavailable' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SourceUnavailableError';
  }
}
