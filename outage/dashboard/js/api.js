// The service's HTTP API as the page uses it: cookie session, JSON errors shown verbatim.

/** An API error: the service's `{"detail": ...}` with its HTTP status. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

// Whoever wants to know that the session is gone (the login overlay) sets this.
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

async function request(method, path, body, { quiet401 = false } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // Commands carry an idempotency key, so a double-click or a retry is the same command.
  if (method === "POST" && path !== "/v1/session") headers["Idempotency-Key"] = crypto.randomUUID();
  const answer = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await answer.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (!answer.ok) {
    const detail = (data && data.detail) || `${answer.status} ${answer.statusText}`;
    if (answer.status === 401 && !quiet401) onUnauthorized(detail);
    throw new ApiError(answer.status, typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return data;
}

export const get = (path, opts) => request("GET", path, undefined, opts);
export const post = (path, body, opts) => request("POST", path, body, opts);
export const del = (path, opts) => request("DELETE", path, undefined, opts);

/** GET that answers null on 404: panels whose endpoint is not there hide themselves. */
export async function getOptional(path) {
  try {
    return await get(path);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}
