/** The headers every response carries, for the server's replies and for raw replies on a socket (bad requests, refused upgrades). */

// No inline script or style anywhere (the page's are files); hls.js runs its transmuxer in a blob:
// worker, and both players feed MSE through blob: URLs.
export const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; " +
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  // Other sites may not embed our video or JSON, even without reading it.
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

/** SECURITY_HEADERS as raw header lines. */
export const RAW_SECURITY_HEADERS = Object.entries(SECURITY_HEADERS)
  .map(([k, v]) => `${k}: ${v}\r\n`)
  .join('');
