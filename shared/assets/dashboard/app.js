// keygate's key dashboard: plain DOM, no build step, no third-party code. It talks to the
// same origin's /v1 API with the HttpOnly session cookie (the server accepts cookie-only
// writes whose Origin is its own). The table is driven by two lists, COLUMNS and ACTIONS:
// a usage chart or a roll button is one more entry there.

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 50;

// ---- the API -----------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title)) || `request failed (${status})`);
    this.status = status;
  }
}

async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { accept: "application/json" } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, json);
  return json;
}

// ---- how a key is shown ------------------------------------------------------------------

function stateOf(key) {
  if (key.revoked_at) return "revoked";
  if (key.expires_at && Date.parse(key.expires_at) <= Date.now()) return "expired";
  return key.is_active ? "active" : "paused";
}

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function when(iso) {
  if (!iso) return el("span", { textContent: "—", title: "never" });
  const text = iso.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");
  return el("time", { dateTime: iso, textContent: text });
}

// One entry per column: a header and how to render a cell.
const COLUMNS = [
  { label: "Name", cell: (k) => k.name },
  { label: "Prefix", cell: (k) => el("code", { textContent: k.key_prefix }) },
  { label: "Scopes", cell: (k) => k.scopes.join(", ") },
  { label: "Created", cell: (k) => when(k.created_at) },
  { label: "Last used", cell: (k) => when(k.last_used_at) },
  { label: "Expires", cell: (k) => when(k.expires_at) },
  { label: "State", cell: (k) => el("span", { className: `state-${stateOf(k)}`, textContent: stateOf(k) }) },
];

// One entry per action button: when it shows, and what it does (then the list reloads,
// unless it answers false: nothing changed).
const ACTIONS = [
  {
    label: "Pause",
    shows: (k) => stateOf(k) === "active",
    run: (k) => api("PATCH", `/v1/api-keys/${k.id}`, { is_active: false }),
  },
  {
    label: "Resume",
    shows: (k) => stateOf(k) === "paused",
    run: (k) => api("PATCH", `/v1/api-keys/${k.id}`, { is_active: true }),
  },
  {
    label: "Revoke",
    danger: true,
    shows: (k) => !k.revoked_at,
    run: async (k) => {
      if (!(await confirmRevoke(k))) return false;
      await api("DELETE", `/v1/api-keys/${k.id}`);
    },
  },
];

// ---- views -------------------------------------------------------------------------------

function say(message) {
  $("status").textContent = message;
}

function fail(error) {
  const box = $("error");
  box.textContent = error instanceof Error ? error.message : String(error);
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function showSignIn() {
  $("account").hidden = true;
  $("keys-view").hidden = true;
  $("sign-in-view").hidden = false;
  $("sign-in-email").focus();
}

async function showKeys(email) {
  $("account-email").textContent = email;
  $("account").hidden = false;
  $("sign-in-view").hidden = true;
  $("keys-view").hidden = false;
  await loadKeys();
}

let nextCursor = null;

async function loadKeys(more = false) {
  const query = new URLSearchParams({ include_revoked: "true", limit: String(PAGE_SIZE) });
  if (more && nextCursor) query.set("cursor", nextCursor);
  const page = await api("GET", `/v1/api-keys?${query}`);
  if (!more) $("keys-body").replaceChildren();
  page.items.forEach((key) => $("keys-body").append(keyRow(key)));
  nextCursor = page.next_cursor;
  $("more").hidden = !nextCursor;
  say(`${$("keys-body").rows.length} key(s) shown.`);
}

function keyRow(key) {
  const row = el("tr", { id: `key-${key.id}` });
  row.dataset.state = stateOf(key);
  COLUMNS.forEach((column) => row.append(el("td", {}, column.cell(key))));
  const actions = el("td", { className: "actions" });
  ACTIONS.filter((a) => a.shows(key)).forEach((action) => {
    const button = el("button", {
      type: "button",
      textContent: action.label,
      className: action.danger ? "danger" : "secondary",
    });
    button.setAttribute("aria-label", `${action.label} ${key.name}`);
    button.addEventListener("click", () =>
      act(async () => {
        if ((await action.run(key)) !== false) await loadKeys();
      }),
    );
    actions.append(button);
  });
  row.append(actions);
  return row;
}

function confirmRevoke(key) {
  const dialog = $("confirm");
  $("confirm-text").textContent =
    `Revoke “${key.name}” (${key.key_prefix})? Every request with it, and every token made from it, will be refused. This cannot be undone.`;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) =>
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true }),
  );
}

// Runs a user action: clears the last error, shows a new one, signs out on 401.
async function act(work) {
  clearError();
  try {
    await work();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      say("Your session has ended: sign in again.");
      showSignIn();
    } else {
      fail(error);
    }
  }
}

// ---- wiring ------------------------------------------------------------------------------

function wire() {
  const head = $("keys-head");
  COLUMNS.forEach((c) => head.append(el("th", { scope: "col", textContent: c.label })));
  head.append(el("th", { scope: "col", textContent: "Actions" }));

  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act(async () => {
      const session = await api("POST", "/v1/sessions", {
        email: $("sign-in-email").value,
        password: $("sign-in-password").value,
      });
      $("sign-in-password").value = "";
      say(`Signed in as ${session.user.email}.`);
      await showKeys(session.user.email);
    });
  });

  $("sign-out").addEventListener("click", () =>
    act(async () => {
      await api("DELETE", "/v1/sessions");
      $("new-secret").hidden = true;
      $("new-secret-value").value = "";
      say("Signed out.");
      showSignIn();
    }),
  );

  $("create-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act(async () => {
      const form = event.target;
      const scopes = [...form.querySelectorAll("input[name=scopes]:checked")].map((i) => i.value);
      const body = { name: form.elements.name.value, scopes };
      if (form.elements.expires.value) body.expires_at = `${form.elements.expires.value}T00:00:00Z`;
      const created = await api("POST", "/v1/api-keys", body);
      form.reset();
      $("new-secret-value").value = created.key;
      $("new-secret").hidden = false;
      $("new-secret-value").focus();
      $("new-secret-value").select();
      await loadKeys();
      say(`Key “${created.name}” created.`);
    });
  });

  $("copy-secret").addEventListener("click", () =>
    act(async () => {
      await navigator.clipboard.writeText($("new-secret-value").value);
      say("Secret copied to the clipboard.");
    }),
  );
  $("dismiss-secret").addEventListener("click", () => {
    $("new-secret").hidden = true;
    $("new-secret-value").value = "";
    $("create-name").focus();
  });
  $("more").addEventListener("click", () => act(() => loadKeys(true)));
}

async function start() {
  wire();
  try {
    const me = await api("GET", "/v1/auth/me");
    await showKeys(me.email);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) fail(error);
    showSignIn();
  }
}

start();
