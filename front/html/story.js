// The story view: one button, one story, with a loading and an error state.
import { ApiError, UNREACHABLE_MESSAGE, appConfig, isGatewayFailure, jsonBody, send } from "./api.js";

const button = document.getElementById("story-button");
const status = document.getElementById("story-status");
const storyText = document.getElementById("story-text");

let loading = false;

async function fetchStory() {
  const response = await send(appConfig().storyUrl, {
    headers: { Accept: "application/json, text/plain;q=0.9" },
  });
  if (isGatewayFailure(response.status)) {
    throw new ApiError(UNREACHABLE_MESSAGE, response.status);
  }
  if (!response.ok) {
    throw new ApiError(
      `Le conteur n'a pas pu répondre (erreur ${response.status}). Réessayez dans un instant.`,
      response.status,
    );
  }
  const body = await jsonBody(response);
  const story = body ? body.histoire : await response.text();
  if (typeof story !== "string" || story.trim() === "") {
    throw new ApiError("Le conteur a répondu sans histoire. Réessayez dans un instant.");
  }
  return story.trim();
}

function showStatus(message, kind) {
  status.textContent = message;
  status.dataset.kind = kind;
}

async function tellStory() {
  if (loading) {
    return;
  }
  loading = true;
  button.setAttribute("aria-disabled", "true");
  button.classList.add("is-loading");
  showStatus("Chargement de l'histoire…", "loading");
  try {
    storyText.textContent = await fetchStory();
    storyText.hidden = false;
    showStatus("", "");
  } catch (error) {
    const message = error instanceof ApiError ? error.message : "Une erreur inattendue est survenue.";
    storyText.hidden = true;
    showStatus(message, "error");
  } finally {
    loading = false;
    button.removeAttribute("aria-disabled");
    button.classList.remove("is-loading");
  }
}

button.addEventListener("click", tellStory);
