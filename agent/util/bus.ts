import { EventEmitter } from 'node:events';
import type { AgentEvent, AgentEventType, AgentEvents } from '../contract/events.js';

type Listener<K extends AgentEventType> = (event: AgentEvent<K>) => void;

/** The typed in-process event bus: modules publish facts here and never call each other. */
export class EventBus {
  private readonly emitter = new EventEmitter();
  private readonly now: () => Date;
  /** Events kept while consumers are being (re)attached; null when delivering at once. */
  private held: AgentEvent[] | null = null;
  private holds = 0;

  constructor(now: () => Date = () => new Date()) {
    this.now = now;
    // Every module may listen to every type; the default limit of 10 would warn for nothing.
    this.emitter.setMaxListeners(0);
  }

  /** Publishes one event; a throwing listener is reported on 'listener-error' and never reaches the publisher. */
  emit<K extends AgentEventType>(type: K, payload: AgentEvents[K]): AgentEvent<K> {
    const event = { type, ...payload, ts: this.now().toISOString() } as AgentEvent<K>;
    if (this.held) this.held.push(event);
    else this.deliver(event);
    return event;
  }

  /**
   * Keeps every event, in order and with the time it happened, until the matching release():
   * start-up and module restarts hold the bus, so an event emitted before its consumers (the
   * outbox publisher, the analysis queue, retention) are attached still reaches them. Holds nest.
   */
  hold(): void {
    this.holds += 1;
    this.held ??= [];
  }

  /** Ends one hold; the last one delivers what was kept, then events flow at once again. */
  release(): void {
    if (this.holds === 0) return;
    this.holds -= 1;
    if (this.holds > 0 || !this.held) return;
    const kept = this.held;
    this.held = null;
    for (const event of kept) this.deliver(event);
  }

  private deliver<K extends AgentEventType>(event: AgentEvent<K>): void {
    const type = event.type as K;
    for (const listener of [...this.emitter.listeners(type), ...this.emitter.listeners('*')]) {
      try {
        (listener as (e: AgentEvent<K>) => void)(event);
      } catch (error) {
        this.emitter.emit('listener-error', error, event);
      }
    }
  }

  /** Subscribes to one type; returns the unsubscribe function. */
  on<K extends AgentEventType>(type: K, listener: Listener<K>): () => void {
    this.emitter.on(type, listener);
    return () => this.emitter.off(type, listener);
  }

  /** Subscribes to every type (the MQTT link's R/events publisher). */
  onAny(listener: (event: AgentEvent) => void): () => void {
    this.emitter.on('*', listener);
    return () => this.emitter.off('*', listener);
  }

  /** Called when a listener throws, so the failure is logged rather than lost. */
  onListenerError(handler: (error: unknown, event: AgentEvent) => void): void {
    this.emitter.on('listener-error', handler);
  }
}
