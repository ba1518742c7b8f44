// What the story and students views share: the runtime configuration and one way to call the back.

const DEFAULT_CONFIG = Object.freeze({
  storyUrl: "/racontemoiunehistoire",
  studentsApiUrl: "/supmit/api/v1.0",
});

const REQUEST_TIMEOUT_MS = 10000;

/** window.APP_CONFIG comes from /config.js, rendered when the container starts. */
export function appConfig() {
  const rendered = window.APP_CONFIG || {};
  const pick = (key) =>
    typeof rendered[key] === "string" && rendered[key].trim() !== "" ? rendered[key].trim() : DEFAULT_CONFIG[key];
  return {
    storyUrl: pick("storyUrl"),
    studentsApiUrl: pick("studentsApiUrl").replace(/\/+$/, ""),
  };
}

/** A failure the page can show as is: `message` is written for people, in French. */
export class ApiError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/**
 * fetch() with a timeout. Network failures become an ApiError; HTTP error statuses are returned
 * to the caller, which knows what they mean. Credentials are sent only through explicit headers
 * (credentials: "omit"), which also keeps the browser from ever showing its own login dialog.
 */
export async function send(url, { method = "GET", headers = {}, body } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  try {
    return await fetch(url, {
      method,
      headers,
      body,
      signal: controller.signal,
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    if (error.name === "AbortError") {
      throw new ApiError("Le serveur met trop de temps à répondre. Réessayez dans un instant.");
    }
    throw new ApiError("Impossible de joindre le serveur. Vérifiez votre connexion puis réessayez.");
  } finally {
    clearTimeout(timer);
  }
}

/** Reads a response body as JSON, or null when it is not JSON. */
export async function jsonBody(response) {
  const type = response.headers.get("Content-Type") || "";
  if (!type.includes("json")) {
    return null;
  }
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/** The `{"error": "..."}` text of an error answer, or "" when there is none. */
export async function errorText(response) {
  const body = await jsonBody(response);
  return body && typeof body.error === "string" ? body.error : "";
}

/** True when the front's own proxy answered because the back could not be reached. */
export function isGatewayFailure(status) {
  return status === 502 || status === 504;
}

export const UNREACHABLE_MESSAGE = "Le service est injoignable pour le moment. Réessayez dans un instant.";
