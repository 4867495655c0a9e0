/** Ids the contract promises to keep stable (consumers dedupe and join on them). */
import { createHash } from 'node:crypto';

/**
 * The stable id of an archive's event: the same for the same archive on the same device, so a
 * consumer (and the analysis result's `eventId`) can rely on it across restarts and catch-ups.
 * Formatted as a name-based UUID (version 5 layout) of the device id and the archive's path.
 */
export function archiveEventId(deviceId: string, file: string): string {
  const bytes = createHash('sha1').update(`archive\n${deviceId}\n${file}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
