// The students view: login, list, add, edit and delete through the back's students API.
// The credentials live in this module's memory only: never in config.js, storage or cookies.
import { ApiError, UNREACHABLE_MESSAGE, appConfig, errorText, isGatewayFailure, jsonBody, send } from "./api.js";

const MAX_AGE = 150;

const loginForm = document.getElementById("login-form");
const usernameInput = document.getElementById("login-username");
const passwordInput = document.getElementById("login-password");
const panel = document.getElementById("students-panel");
const listButton = document.getElementById("students-list-button");
const logoutButton = document.getElementById("logout-button");
const table = document.getElementById("students-table");
const tableBody = document.getElementById("students-body");
const addForm = document.getElementById("add-student-form");
const newNameInput = document.getElementById("new-student-name");
const newAgeInput = document.getElementById("new-student-age");
const status = document.getElementById("students-status");

let credentials = null;
let busy = false;
let shownStudents = [];

// ---- talking to the API ------------------------------------------------------------------

function basicAuthorization({ username, password }) {
  // btoa() only takes Latin-1: encode the UTF-8 bytes first so that "é" works too.
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  let binary = "";
  for (const byte of bytes) {
    binary += String.fromCharCode(byte);
  }
  return `Basic ${btoa(binary)}`;
}

function studentsUrl(name) {
  const base = `${appConfig().studentsApiUrl}/students`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

/** Turns a failed answer into a message for people. `action` says what was being done. */
async function failure(response, action) {
  const detail = await errorText(response);
  const { status: code } = response;
  if (code === 401) {
    return new ApiError("Identifiant ou mot de passe incorrect.", code);
  }
  if (code === 503 && /not configured/i.test(detail)) {
    return new ApiError(
      "L'API des étudiants n'est pas configurée sur le serveur (identifiants absents). Contactez l'administrateur.",
      code,
    );
  }
  if (isGatewayFailure(code)) {
    return new ApiError(UNREACHABLE_MESSAGE, code);
  }
  if (code >= 500) {
    return new ApiError(`${action} : le serveur a refusé l'opération${detail ? ` (${detail})` : ` (erreur ${code})`}.`, code);
  }
  return new ApiError(`${action} : ${detail || `requête refusée (erreur ${code})`}.`, code);
}

async function call(method, url, action, payload) {
  const headers = { Accept: "application/json", Authorization: basicAuthorization(credentials) };
  let body;
  if (payload !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(payload);
  }
  const response = await send(url, { method, headers, body });
  if (!response.ok) {
    throw await failure(response, action);
  }
  return response;
}

/** Accepts `[{name, age}]`, `{"students": [...]}` or the legacy `{"student_ages": {name: "12"}}`. */
function normalizeStudents(body) {
  let entries = [];
  if (Array.isArray(body)) {
    entries = body;
  } else if (body && Array.isArray(body.students)) {
    entries = body.students;
  } else if (body && body.student_ages && typeof body.student_ages === "object") {
    entries = Object.entries(body.student_ages).map(([name, age]) => ({ name, age }));
  } else {
    throw new ApiError("Le serveur a renvoyé une liste d'étudiants illisible.");
  }
  return entries
    .filter((entry) => entry && typeof entry.name === "string")
    .map((entry) => ({ name: entry.name, age: Number(entry.age) }))
    .sort((a, b) => a.name.localeCompare(b.name, "fr"));
}

/** Students per request: the back's largest page (`limit` is 1 to 1000). */
const PAGE_SIZE = 1000;

/** The whole list: the REST list comes in pages, followed through `next_cursor` until it is null. */
async function fetchStudents() {
  const students = [];
  let cursor = null;
  do {
    const query = `?limit=${PAGE_SIZE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const response = await call("GET", studentsUrl() + query, "Impossible de lister les étudiants");
    const body = await jsonBody(response);
    students.push(...normalizeStudents(body));
    cursor = body && typeof body.next_cursor === "string" ? body.next_cursor : null;
  } while (cursor);
  return students.sort((a, b) => a.name.localeCompare(b.name, "fr"));
}

// ---- validation --------------------------------------------------------------------------

/** Returns the age as an integer, or throws an ApiError that says what is wrong. */
function parseAge(text) {
  const trimmed = String(text).trim();
  if (!/^\d+$/.test(trimmed) || Number(trimmed) > MAX_AGE) {
    throw new ApiError(`L'âge doit être un nombre entier entre 0 et ${MAX_AGE}.`);
  }
  return Number(trimmed);
}

function parseName(text) {
  const name = String(text).trim();
  if (name === "") {
    throw new ApiError("Le nom de l'étudiant est obligatoire.");
  }
  return name;
}

// ---- rendering ---------------------------------------------------------------------------

function showStatus(message, kind = "info") {
  status.textContent = message;
  status.dataset.kind = message ? kind : "";
}

function button(label, className, onClick, accessibleName) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = label;
  element.className = className;
  if (accessibleName) {
    element.setAttribute("aria-label", accessibleName);
  }
  element.addEventListener("click", onClick);
  return element;
}

function cell(text) {
  const element = document.createElement("td");
  element.textContent = text;
  return element;
}

function renderStudents(students) {
  const rows = students.map((student) => {
    const row = document.createElement("tr");
    row.dataset.name = student.name;
    const nameCell = document.createElement("th");
    nameCell.scope = "row";
    nameCell.textContent = student.name;
    const actions = document.createElement("div");
    actions.className = "actions";
    actions.append(
      button("Modifier", "small", () => startEdit(row, student), `Modifier l'âge de ${student.name}`),
      button("Supprimer", "small danger", () => removeStudent(student.name), `Supprimer ${student.name}`),
    );
    const actionsCell = cell("");
    actionsCell.append(actions);
    row.append(nameCell, cell(Number.isFinite(student.age) ? String(student.age) : "?"), actionsCell);
    return row;
  });
  if (rows.length === 0) {
    const empty = document.createElement("tr");
    const message = cell("Aucun étudiant pour le moment.");
    message.colSpan = 3;
    message.className = "empty";
    empty.append(message);
    rows.push(empty);
  }
  tableBody.replaceChildren(...rows);
  table.hidden = false;
  shownStudents = students;
}

function cancelEdit(name) {
  renderStudents(shownStudents);
  focusRow(name);
}

function startEdit(row, student) {
  const ageCell = row.children[1];
  const actions = row.querySelector(".actions");
  const input = document.createElement("input");
  input.type = "number";
  input.inputMode = "numeric";
  input.min = "0";
  input.max = String(MAX_AGE);
  input.step = "1";
  input.value = Number.isFinite(student.age) ? String(student.age) : "";
  input.className = "age-input";
  input.setAttribute("aria-label", `Nouvel âge de ${student.name}`);
  const save = () => saveAge(student.name, input.value);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      save();
    } else if (event.key === "Escape") {
      cancelEdit(student.name);
    }
  });
  ageCell.replaceChildren(input);
  actions.replaceChildren(
    button("Enregistrer", "small primary", save, `Enregistrer l'âge de ${student.name}`),
    button("Annuler", "small", () => cancelEdit(student.name), "Annuler la modification"),
  );
  input.focus();
  input.select();
}

function focusRow(name) {
  const row = [...tableBody.rows].find((candidate) => candidate.dataset.name === name);
  const target = row ? row.querySelector("button") : listButton;
  target.focus();
}

// ---- actions -----------------------------------------------------------------------------

/** Runs one API action at a time, showing its outcome; returns false when it failed. */
async function run(pendingMessage, action) {
  if (busy) {
    return false;
  }
  busy = true;
  panel.setAttribute("aria-busy", "true");
  showStatus(pendingMessage, "loading");
  try {
    await action();
    return true;
  } catch (error) {
    showStatus(error instanceof ApiError ? error.message : "Une erreur inattendue est survenue.", "error");
    if (error instanceof ApiError && error.status === 401) {
      logout({ keepStatus: true });
    }
    return false;
  } finally {
    busy = false;
    panel.removeAttribute("aria-busy");
  }
}

async function refresh({ message = "", focusName } = {}) {
  const ok = await run("Chargement des étudiants…", async () => {
    const students = await fetchStudents();
    renderStudents(students);
    const count = students.length === 1 ? "1 étudiant" : `${students.length} étudiants`;
    showStatus(message || `${count} dans la liste.`, "success");
  });
  if (ok && focusName !== undefined) {
    focusRow(focusName);
  }
  return ok;
}

async function saveAge(name, ageText) {
  let age;
  try {
    age = parseAge(ageText);
  } catch (error) {
    showStatus(error.message, "error");
    return;
  }
  const ok = await run("Enregistrement…", () => call("PUT", studentsUrl(name), "Modification impossible", { age }));
  if (ok) {
    await refresh({ message: `Âge de « ${name} » mis à jour : ${age} ans.`, focusName: name });
  }
}

async function removeStudent(name) {
  if (!window.confirm(`Supprimer l'étudiant « ${name} » ?`)) {
    return;
  }
  const ok = await run("Suppression…", () => call("DELETE", studentsUrl(name), "Suppression impossible"));
  if (ok) {
    await refresh({ message: `Étudiant « ${name} » supprimé.` });
    listButton.focus();
  }
}

async function addStudent(event) {
  event.preventDefault();
  let student;
  try {
    student = { name: parseName(newNameInput.value), age: parseAge(newAgeInput.value) };
  } catch (error) {
    showStatus(error.message, "error");
    return;
  }
  const ok = await run("Ajout…", () => call("POST", studentsUrl(), "Ajout impossible", student));
  if (ok) {
    addForm.reset();
    await refresh({ message: `Étudiant « ${student.name} » ajouté.`, focusName: student.name });
  }
}

async function login(event) {
  event.preventDefault();
  const username = usernameInput.value;
  const password = passwordInput.value;
  if (username === "" || password === "") {
    showStatus("Saisissez l'identifiant et le mot de passe.", "error");
    return;
  }
  credentials = { username, password };
  passwordInput.value = "";
  loginForm.hidden = true;
  panel.hidden = false;
  if (await refresh()) {
    listButton.focus();
  }
}

function logout({ keepStatus = false } = {}) {
  credentials = null;
  shownStudents = [];
  tableBody.replaceChildren();
  table.hidden = true;
  panel.hidden = true;
  loginForm.hidden = false;
  if (!keepStatus) {
    showStatus("Vous êtes déconnecté.", "info");
  }
  (usernameInput.value ? passwordInput : usernameInput).focus();
}

loginForm.addEventListener("submit", login);
addForm.addEventListener("submit", addStudent);
listButton.addEventListener("click", () => refresh());
logoutButton.addEventListener("click", () => logout());
