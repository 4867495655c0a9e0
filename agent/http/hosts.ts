/**
 * The `Host` check: a request must name this agent (a loopback name or address, the listen
 * address, the board's host name or one of its addresses, or an `http.allowedHosts` entry).
 * Through an SSH tunnel to the loopback default, a page of a site whose DNS name is rebound to
 * 127.0.0.1 would otherwise read the API with the technician's forwarded port; it still sends its
 * own name as Host.
 */
import os from 'node:os';

/** What the check reads from the machine; tests replace it. */
export interface HostFacts {
  hostname: () => string;
  addresses: () => string[];
}

const machine: HostFacts = {
  hostname: () => os.hostname(),
  addresses: () =>
    Object.values(os.networkInterfaces())
      .flatMap((list) => list ?? [])
      .map((a) => a.address),
};

/** The host part of a Host header, lower case, without port, brackets, zone or trailing dot; null if malformed. */
export function hostOf(header: string): string | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)(?:%[^\]]*)?\]|([^:[\]\s/@]+))(?::\d{1,5})?$/.exec(header.trim());
  if (!match) return null;
  return (match[1] ?? match[2] ?? '').toLowerCase().replace(/\.$/, '') || null;
}

function isLoopbackName(host: string): boolean {
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) ||
    host === '::ffff:127.0.0.1'
  );
}

/** Decides whether a request's Host header names this agent. */
export class HostCheck {
  private cache: { at: number; names: Set<string> } | null = null;

  constructor(
    private readonly listenHost: string,
    private readonly allowed: readonly string[],
    private readonly facts: HostFacts = machine,
    private readonly now: () => number = Date.now,
  ) {}

  // Addresses change with DHCP and Wi-Fi: the machine's names are re-read at most every 10 s.
  private names(): Set<string> {
    if (this.cache && this.now() - this.cache.at < 10_000) return this.cache.names;
    const hostname = this.facts.hostname().toLowerCase();
    const names = new Set<string>([
      // A wildcard bind is no name: browsers send 0.0.0.0 to this machine, so it must not pass.
      ...(this.listenHost === '0.0.0.0' || this.listenHost === '::' ? [] : [this.listenHost.toLowerCase()]),
      hostname,
      `${hostname}.local`, // mDNS, how a Raspberry Pi is usually reached on a LAN
      ...this.facts.addresses().map((a) => a.toLowerCase().replace(/%.*$/, '')),
      ...this.allowed.map((h) => h.toLowerCase().replace(/\.$/, '')),
    ]);
    this.cache = { at: this.now(), names };
    return names;
  }

  /** True when the header names this agent; an absent header (HTTP/1.0) is let through. */
  allows(header: string | undefined): boolean {
    if (header === undefined) return true;
    const host = hostOf(header);
    if (host === null) return false;
    return isLoopbackName(host) || this.names().has(host);
  }
}
