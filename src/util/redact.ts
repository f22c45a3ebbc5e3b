// Secrets out of every URL we print: the userinfo of a URL (`user:PASS@` → `user:***@`, a lone `TOKEN@` → `***@`)
// and the values of query parameters whose names look like a credential (key, token, password, secret, signature,
// auth…: `?api_key=X` → `?api_key=***`). String-based, so the rest of the URL is printed exactly as given, and
// `redactText` does the same to every URL inside a message (an error from fetch may quote the URL it was given).
// Also splits a URL's userinfo off (`splitCredentials`) for a client that sends it as a header instead.

const SECRET_PARAM = /key|token|pass|pwd|secret|sig|auth|credential|session/i;
const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#@\s]*)@/i;
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;

/** `url` with its password (or lone user token) and secret-looking query values replaced by ***. */
export function redactUrl(url: string): string {
  const out = url.replace(USERINFO, (_, scheme: string, info: string) => {
    const colon = info.indexOf(":");
    return `${scheme}${colon >= 0 ? `${info.slice(0, colon)}:***` : "***"}@`;
  });
  return out.replace(/([?&;])([^=&#;\s]*)=([^&#;\s]*)/g, (whole, sep: string, name: string) =>
    SECRET_PARAM.test(name) ? `${sep}${name}=***` : whole,
  );
}

/** `text` with every URL in it redacted as redactUrl does. */
export const redactText = (text: string): string => text.replace(URL_IN_TEXT, (u) => redactUrl(u));

/** A URL without its userinfo, and the user and password it held (percent-decoded), if any. */
export function splitCredentials(url: string): { url: string; user?: string; password?: string } {
  const m = USERINFO.exec(url);
  if (!m) return { url };
  const info = m[2],
    colon = info.indexOf(":");
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  return {
    url: m[1] + url.slice(m[0].length),
    user: decode(colon >= 0 ? info.slice(0, colon) : info),
    ...(colon >= 0 ? { password: decode(info.slice(colon + 1)) } : {}),
  };
}
