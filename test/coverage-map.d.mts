/** Types of test/coverage-map.mjs (plain JavaScript: tap loads it in the runner, without tsx). */
export const COVERED: readonly string[];
export const TESTED_ELSEWHERE: ReadonlyMap<string, string>;
export function testOf(source: string): string;
export default function coverageMap(testFile: string): string[] | null;
