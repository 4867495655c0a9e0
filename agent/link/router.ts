/**
 * The command router: one table from command name to {schema check, handler}. It parses and
 * checks every request, runs the handler, and is the only place an error becomes a reply.
 */
import type { CommandTable } from '../commands/types.js';
import { AgentError } from '../contract/errors.js';
import type { CommandReply } from '../contract/messages.js';
import type { Logger } from '../util/logger.js';
import { isObject } from '../commands/schema.js';
import type { SignatureVerifier } from './signature.js';

/** A request as it arrived on `R/cmd/<name>`. */
export interface IncomingCommand {
  name: string;
  /** The topic it arrived on (`R/cmd/<name>`): scoped signatures cover it. */
  topic?: string;
  payload: Buffer;
  /** MQTT 5 Response Topic and Correlation Data, when the request carried them. */
  responseTopic?: string;
  correlationData?: Buffer;
}

/** Where and what to reply. */
export interface OutgoingReply {
  topic: string;
  body: CommandReply;
  correlationData?: Buffer;
}

/** What the link calls for each request; never rejects. */
export interface CommandDispatcher {
  handle(command: IncomingCommand): Promise<OutgoingReply | null>;
}

/** What the router needs. */
export interface CommandRouterDeps {
  commands: CommandTable;
  log: Logger;
  /** Checks signatures when `mqtt.commandKeyFile` is set. */
  verifier?: SignatureVerifier;
  /** Requests handled at once; more are refused rather than queued without bound. */
  maxConcurrent?: number;
  /** Whether a reply may go to this topic (contract/topics.ts isSafeReplyTopic); a request naming another is refused unanswered. */
  replyTopicAllowed?: (topic: string) => boolean;
}

// Fields every body may carry besides the command's own: the 3.1.1 reply form and the signature.
const ENVELOPE = ['replyTo', 'id', 'ts', 'sig'];
const MAX_PAYLOAD = 64 * 1024;
// Longest id or correlation data echoed in the reply to an unauthorised request.
const MAX_UNAUTHORISED_ECHO = 128;

function isShortId(id: unknown): boolean {
  return (
    (typeof id === 'string' && id.length <= MAX_UNAUTHORISED_ECHO) || (typeof id === 'number' && Number.isFinite(id))
  );
}

/** Dispatches commands; every failure becomes an error reply (when a reply topic is known). */
export class CommandRouter implements CommandDispatcher {
  private running = 0;

  constructor(private readonly deps: CommandRouterDeps) {}

  /** Handles one request and returns the reply to publish, or null when nobody asked for one. */
  async handle(command: IncomingCommand): Promise<OutgoingReply | null> {
    let topic = command.responseTopic ?? null;
    let id: unknown;
    let body: CommandReply;
    this.running += 1;
    try {
      const request = this.parse(command.payload);
      if (typeof request.replyTo === 'string' && topic === null) topic = request.replyTo;
      if (topic !== null && !this.replyAllowed(topic)) {
        // Nothing runs and nothing is sent: a reply there could feed another board's cmd/ or spoof a status.
        throw new AgentError(
          'bad_request',
          `reply topic ${JSON.stringify(topic).slice(0, 120)} is not allowed: use R/reply/... or a topic outside the fleet's <topicPrefix>/ tree`,
        );
      }
      id = request.id;
      // Counted after the body is read (64 KiB at most), so a client that names its reply topic only
      // in the body (MQTT 3.1.1) still hears why nothing ran.
      if (this.running > (this.deps.maxConcurrent ?? 32))
        throw new AgentError('busy', 'too many commands in progress; try again when one has replied');
      const result = await this.dispatch(command.name, request, command.topic);
      body = { ok: true, result: result ?? null };
    } catch (error) {
      body = { ok: false, error: toReplyError(error) };
      this.deps.log.warn({ command: command.name.slice(0, 64), code: body.error.code, err: error }, 'command refused');
    } finally {
      this.running -= 1;
    }
    if (topic === null || !this.replyAllowed(topic)) return null;
    let correlationData = command.correlationData;
    if (body.ok === false && body.error.code === 'unauthorized') {
      // The contract answers an unauthorised command, but whoever sent it proved nothing: echo
      // only a short id and correlation data, so the board cannot be made to relay their content.
      if (!isShortId(id)) id = undefined;
      if (correlationData && correlationData.length > MAX_UNAUTHORISED_ECHO) correlationData = undefined;
    }
    if (id !== undefined) body.id = id;
    return { topic, body, correlationData };
  }

  private replyAllowed(topic: string): boolean {
    return this.deps.replyTopicAllowed?.(topic) ?? true;
  }

  private parse(payload: Buffer): Record<string, unknown> {
    if (payload.length > MAX_PAYLOAD) throw new AgentError('bad_request', `body is larger than ${MAX_PAYLOAD} bytes`);
    let request: unknown;
    try {
      request = JSON.parse(payload.toString('utf8'));
    } catch (error) {
      throw new AgentError('bad_request', 'body is not valid json', { cause: error });
    }
    if (!isObject(request)) throw new AgentError('bad_request', 'body must be a json object');
    if (request.replyTo !== undefined && typeof request.replyTo !== 'string') {
      throw new AgentError('bad_request', 'replyTo must be a topic string');
    }
    return request;
  }

  private async dispatch(name: string, request: Record<string, unknown>, topic: string | undefined): Promise<unknown> {
    // The signature covers the name, so it is checked before the name is even looked up.
    this.deps.verifier?.verify(name, request, topic);
    const signed = this.deps.verifier?.enabled() ?? false;
    const spec = Object.hasOwn(this.deps.commands, name) ? this.deps.commands[name] : undefined;
    if (!spec) throw new AgentError('unknown_command', `unknown command ${JSON.stringify(name).slice(0, 80)}`);
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(request)) {
      if (!ENVELOPE.includes(key)) fields[key] = value;
    }
    // Without a command key `sig` signs nothing of the envelope: a body that has its own (update's
    // release signature) gets it.
    if (spec.keepsSig && !signed && request.sig !== undefined) fields.sig = request.sig;
    const args: unknown = spec.parse(fields);
    return spec.run(args, { signed });
  }
}

/** An AgentError keeps its code and message; anything else is `internal` (the message only, never a stack). */
function toReplyError(error: unknown): { code: string; message: string } {
  if (error instanceof AgentError) return { code: error.code, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'internal', message: message.slice(0, 500) };
}
