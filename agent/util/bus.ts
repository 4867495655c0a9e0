import { EventEmitter } from 'node:events';
import type { AgentEvent, AgentEventType, AgentEvents } from '../contract/events.js';

type Listener<K extends AgentEventType> = (event: AgentEvent<K>) => void;

/** The typed in-process event bus: modules publish facts here and never call each other. */
export class EventBus {
  private readonly emitter = new EventEmitter();
  private readonly now: () => Date;

  constructor(now: () => Date = () => new Date()) {
    this.now = now;
    // Every module may listen to every type; the default limit of 10 would warn for nothing.
    this.emitter.setMaxListeners(0);
  }

  /** Publishes one event; a throwing listener is reported on 'listener-error' and never reaches the publisher. */
  emit<K extends AgentEventType>(type: K, payload: AgentEvents[K]): AgentEvent<K> {
    const event = { type, ...payload, ts: this.now().toISOString() } as AgentEvent<K>;
    for (const listener of [...this.emitter.listeners(type), ...this.emitter.listeners('*')]) {
      try {
        (listener as (e: AgentEvent<K>) => void)(event);
      } catch (error) {
        this.emitter.emit('listener-error', error, event);
      }
    }
    return event;
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
