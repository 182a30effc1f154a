// Sign-in: POST /v1/session turns an API key into an HttpOnly cookie (the event stream
// cannot send headers). Only keys with the officer (or admin) role get past the form.

import { ApiError, del, get, post } from "./api.js";
import { $ } from "./dom.js";

const OFFICER = ["officer", "admin"];

/** The signed-in name, or null when the cookie is missing or stale. */
export async function currentSession() {
  try {
    await get("/v1/storm", { quiet401: true });
    return sessionStorage.getItem("outage.who") || "officer";
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return null;
    throw error;
  }
}

/** Show the form until a key with the officer role signs in; resolves with the name. */
export function askToSignIn(message = "") {
  const form = $("#login");
  const error = $("#login-error");
  const input = $("#login-key");
  form.hidden = false;
  error.textContent = message;
  input.focus();
  return new Promise((resolve) => {
    form.onsubmit = async (e) => {
      e.preventDefault();
      error.textContent = "";
      try {
        const who = await post("/v1/session", { key: input.value.trim() }, { quiet401: true });
        if (!who.roles.some((r) => OFFICER.includes(r))) {
          await del("/v1/session").catch(() => {});
          error.textContent = `key ${who.name} lacks the officer role (has: ${who.roles.join(", ")})`;
          return;
        }
        sessionStorage.setItem("outage.who", who.name);
        input.value = "";
        form.hidden = true;
        resolve(who.name);
      } catch (err) {
        error.textContent = err.message;
      }
    };
  });
}

export async function signOut() {
  sessionStorage.removeItem("outage.who");
  await del("/v1/session").catch(() => {});
}
