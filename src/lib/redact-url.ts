// Redacts the values of secret-bearing query parameters before a URL is logged.
// `request`: the sealed device request of /device/confirm (RFC 8628), as good as its user code.
const SECRET_PARAM = /token|code|secret|password|hint|assertion|state|nonce|request/i;

export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const key of [...params.keys()]) if (SECRET_PARAM.test(key)) params.set(key, '[Redacted]');
  return `${url.slice(0, q)}?${params.toString()}`;
}
