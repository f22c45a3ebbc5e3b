// The one access rule of our HTTP servers (`sso serve`, `sso ui`): a configured token must arrive as
// `Authorization: Bearer TOKEN`, compared in constant time over equal-length digests (the answer's timing tells
// nothing about how much of a guess was right); and which bind addresses are this machine only (loopback), where
// `sso ui` needs no token. Deliberately not here: HTTP errors (each server answers in its own format).
import { createHash, timingSafeEqual } from "node:crypto";

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/** Whether `given` equals `expected`, in time independent of where they differ. */
export const sameSecret = (given: string, expected: string): boolean =>
  timingSafeEqual(digest(given), digest(expected));

/** Whether an Authorization header carries `Bearer TOKEN` (no token configured: always). */
export const bearerMatches = (authorization: string | undefined, token: string | undefined): boolean =>
  token === undefined || sameSecret(authorization ?? "", `Bearer ${token}`);

/** Addresses that only this machine can reach: 127.0.0.0/8, ::1 and "localhost". */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h) || h === "::ffff:127.0.0.1";
}
