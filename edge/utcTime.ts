// Timestamps in UTC without Date's string methods. In node 20's V8, toISOString, toUTCString and
// JSON.stringify(date) go through V8's ToDateString, which also looks up the host's time zone
// and its display name through ICU (TimeZone::detectHostTimeZone, TimeZoneNames): the first call
// costs the runtime about 1.4 MiB of RSS (ICU's zone data and its objects) for a string that
// needs none of it. The getUTC* methods do not touch ICU. Used for the runtime's log lines, its
// reload_error_at and the HTTP Date header (server.ts turns node's own, which calls toUTCString,
// off). Same text as toISOString / toUTCString for years 0-9999 (test/unit/edge-utc-time.test.ts).

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `2026-12-06T16:01:03.437Z`: what `new Date(ms).toISOString()` gives. */
export function isoTimestamp(ms: number = Date.now()): string {
  const d = new Date(ms);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}Z`;
}

/** `Sun, 06 Dec 2026 16:01:03 GMT` (RFC 9110 IMF-fixdate): what `new Date(ms).toUTCString()` gives. */
export function httpDate(ms: number = Date.now()): string {
  const d = new Date(ms);
  return `${DAYS[d.getUTCDay()]}, ${pad(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${pad(d.getUTCFullYear(), 4)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} GMT`;
}

let cachedSecond = -1;
let cachedDate = '';

/** The Date header for a response now, formatted once per second (as node does for its own). */
export function currentHttpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedDate = httpDate(second * 1000);
  }
  return cachedDate;
}
