// The duetime console. Every datum comes from the JSON API with the bearer token, which is
// kept in this tab's sessionStorage only. The DOM is built from text nodes, never by parsing
// HTML, so message bodies, headers and URLs render as text whatever they hold.

const TOKEN_KEY = "duetime.token";
// The page is <api>/console, so "./" is the API's root, base path included.
const API_ROOT = new URL("./", location.href);
const PAGE = 100;
const EVENT_STATES = [
  "CREATED", "ACTIVE", "RETRY", "ERROR", "DELIVERED", "FAILED", "CANCEL_REQUESTED", "CANCELED",
  "IN_PROGRESS",
];
// Fields the API gives as unix milliseconds.
const TIME_KEYS = new Set([
  "time", "createdAt", "notBefore", "nextDeliveryTime", "nextScheduleTime", "lastScheduleTime",
  "lastMissedAt", "armedAt", "dueAt", "sentAt", "fromDate", "toDate", "from", "to",
]);

class AuthError extends Error {}

// --- DOM: text only -----------------------------------------------------------------------

function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value)); // names are literals here
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child)); // a string becomes a Text node
  }
  return el;
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text = null) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  if (text != null) el.textContent = String(text);
  return el;
}

function when(ms) {
  if (!Number.isFinite(ms)) return "—";
  const seconds = Math.round((ms - Date.now()) / 1000);
  const size = Math.abs(seconds);
  const amount = size < 120 ? `${size} s` : size < 7200 ? `${Math.round(size / 60)} min`
    : size < 172800 ? `${Math.round(size / 3600)} h` : `${Math.round(size / 86400)} d`;
  const relative = seconds >= 0 ? `in ${amount}` : `${amount} ago`;
  const iso = new Date(ms).toISOString().slice(0, 19).replace("T", " ");
  return h("span", { class: "time", title: relative }, `${iso}Z`, h("small", {}, ` ${relative}`));
}

function scalar(key, value) {
  if (value == null || value === "") return "—";
  if (TIME_KEYS.has(key) && typeof value === "number") return when(value);
  if (typeof value === "object") return h("code", {}, JSON.stringify(value));
  return String(value);
}

const isRecord = (v) => v != null && typeof v === "object" && !Array.isArray(v);

// Any JSON value: records as key/value tables, arrays of records as tables (for /v2/stats,
// whose keys may grow: nothing here names them).
function generic(value, key = "") {
  if (Array.isArray(value)) {
    if (!value.length) return h("span", { class: "muted" }, "none");
    if (value.every(isRecord)) {
      const keys = [...new Set(value.flatMap(Object.keys))];
      return table(keys.map((k) => [k, (row) => generic(row[k], k)]), value);
    }
    return value.map((v) => (isRecord(v) || Array.isArray(v) ? JSON.stringify(v) : String(v)))
      .join(", ");
  }
  if (isRecord(value)) return Object.keys(value).length ? fields(value, [], generic) : "—";
  return scalar(key, value);
}

function table(columns, rows, empty = "Nothing here.", label = null) {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("table", { "aria-label": label },
    h("thead", {}, h("tr", {}, columns.map(([label]) => h("th", { scope: "col" }, label)))),
    h("tbody", {}, rows.map((row) => h("tr", {},
      columns.map(([, cell]) => h("td", {}, cell(row)))))),
  );
}

function fields(record, skip = [], render = (value, key) => scalar(key, value)) {
  const keys = Object.keys(record).filter((k) => !skip.includes(k));
  return h("table", { class: "fields" }, h("tbody", {},
    keys.map((k) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, render(record[k], k)))),
  ));
}

function headersTable(headers) {
  const rows = Object.entries(headers || {}).map(([name, values]) => ({
    name, value: [].concat(values).join(", "),
  }));
  return table([["Header", (r) => r.name], ["Value", (r) => h("code", {}, r.value)]], rows,
    "No headers.");
}

const pre = (text) => h("pre", {}, text);
const note = (text, kind = "note") =>
  h("p", { class: kind, role: kind === "error" ? "alert" : "status" }, text);
// Ids travel in the URL's fragment, encoded, and are read back as text.
const link = (label, hash) =>
  h("button", { type: "button", class: "link", onclick: () => go(hash) }, label);
const go = (hash) => { location.hash = hash; };

// --- API --------------------------------------------------------------------------------

async function api(method, path, { params = {}, allow = [] } = {}) {
  const url = new URL(path, API_ROOT);
  for (const [name, value] of Object.entries(params)) {
    if (value != null && value !== "") url.searchParams.append(name, String(value));
  }
  const response = await fetch(url, {
    method,
    headers: { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}` },
    cache: "no-store",
    credentials: "omit",
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (response.status === 401) throw new AuthError(data?.error ?? "unauthorized");
  if (allow.includes(response.status)) return null;
  if (!response.ok) {
    const reason = data?.error ?? text;
    throw new Error(`${method} ${url.pathname} answered ${response.status}: ${reason}`);
  }
  return data;
}

const enc = encodeURIComponent;

// --- messages ------------------------------------------------------------------------------

// One row per message from a page of the event log (newest first; a page never splits a
// message's events), until the API has a message list of its own.
function messagesFromEvents(events) {
  const byId = new Map();
  for (const event of events) {
    if (!byId.has(event.messageId)) byId.set(event.messageId, { ...event, response: null });
    const row = byId.get(event.messageId);
    row.response ??= event.responseStatus ?? null;
  }
  return [...byId.values()];
}

let listRoute = true; // GET /v2/messages, while the server has it

async function messagePage(cursor) {
  if (listRoute) {
    const page = await api("GET", "v2/messages",
      { params: { count: PAGE, cursor }, allow: [404, 405] });
    if (page && Array.isArray(page.messages)) {
      const rows = page.messages.map((m) => ({ ...m, time: m.createdAt, response: null }));
      return { rows, cursor: page.cursor };
    }
    listRoute = false;
  }
  const page = await api("GET", "v2/events", { params: { count: PAGE * 2, cursor } });
  return { rows: messagesFromEvents(page.events), cursor: page.cursor };
}

function paged(load, columns, empty) {
  const body = h("div");
  const more = h("button", { type: "button", hidden: true }, "Load more");
  let cursor = null;
  const rows = [];
  async function next() {
    more.disabled = true;
    const page = await load(cursor);
    rows.push(...page.rows);
    cursor = page.cursor ?? null;
    body.replaceChildren(table(columns, rows, empty));
    more.hidden = !cursor;
    more.disabled = false;
  }
  more.addEventListener("click", () => next().catch(fail));
  return { node: h("div", {}, body, more), next };
}

async function messagesView() {
  const list = paged(messagePage, [
    ["Message", (m) => link(m.messageId, `messages/${enc(m.messageId)}`)],
    ["URL", (m) => h("code", {}, m.url)],
    ["State", (m) => h("span", { class: `state ${m.state}` }, m.state)],
    ["Retried", (m) => scalar("retried", m.retried)],
    ["Last response", (m) => scalar("response", m.response)],
    ["Updated", (m) => when(m.time)],
  ], "No messages yet.");
  await list.next();
  return h("div", {}, h("h2", {}, "Messages"), list.node);
}

function attemptsTable(events) {
  return table([
    ["Time", (e) => when(e.time)],
    ["State", (e) => h("span", { class: `state ${e.state}` }, e.state)],
    ["Retried", (e) => scalar("retried", e.retried)],
    ["Response", (e) => response(e)],
    ["Next delivery", (e) => scalar("nextDeliveryTime", e.nextDeliveryTime)],
  ], events, "No events.", "Attempts and responses");
}

function response(event) {
  if (!event.responseStatus && !event.error && event.responseBody == null) return "—";
  const parts = [];
  // 0 is the DLQ's "no response" (a connection error): the error says what happened.
  if (event.responseStatus) parts.push(h("strong", {}, String(event.responseStatus)));
  if (event.error) parts.push(h("span", { class: "error-text" }, ` ${event.error}`));
  if (event.responseBody != null || event.responseHeader) {
    parts.push(h("details", {}, h("summary", {}, "response"),
      headersTable(event.responseHeader), pre(event.responseBody ?? "")));
  }
  return parts;
}

async function messageView(id) {
  const [message, log] = await Promise.all([
    api("GET", `v2/messages/${enc(id)}`, { allow: [404] }),
    api("GET", "v2/events", { params: { messageId: id, count: 1000 } }),
  ]);
  const attempts = [...log.events].reverse(); // oldest first, as they happened
  const parts = [link("← Messages", "messages"), h("h2", {}, id)];
  if (message == null) {
    parts.push(note("The message itself is no longer stored; its events follow."));
  } else {
    parts.push(fields(message, ["header", "body", "bodyBase64"]));
    parts.push(h("h3", {}, "Headers"), headersTable(message.header));
    parts.push(h("h3", {}, message.bodyBase64 != null ? "Body (base64)" : "Body"),
      pre(message.body ?? message.bodyBase64 ?? ""));
  }
  parts.push(h("h3", {}, "Attempts and responses"), attemptsTable(attempts));
  return h("div", {}, parts);
}

// --- schedules -----------------------------------------------------------------------------

async function schedulesView() {
  const schedules = await api("GET", "v2/schedules");
  const states = (s) => Object.entries(s.lastScheduleStates || {})
    .map(([message, state]) => `${message}: ${state}`).join(", ");
  return h("div", {}, h("h2", {}, "Schedules"), table([
    ["Schedule", (s) => s.scheduleId],
    ["Cron", (s) => h("code", {}, s.cron)],
    ["Destination", (s) => h("code", {}, s.destination)],
    ["State", (s) => (s.isPaused ? "paused" : "active")],
    ["Next fire", (s) => scalar("nextScheduleTime", s.nextScheduleTime)],
    ["Last fire", (s) => scalar("lastScheduleTime", s.lastScheduleTime)],
    ["Missed", (s) => scalar("missedFires", s.missedFires)],
    ["Last fire's message", (s) => states(s) || "—"],
  ], schedules, "No schedules."));
}

// --- DLQ --------------------------------------------------------------------------------

async function dlqView() {
  const status = h("div");
  const actions = (m) => {
    const retry = h("button", { type: "button" }, "Retry");
    const remove = h("button", { type: "button", class: "danger" }, "Delete");
    retry.addEventListener("click", () => act(async () => {
      const { messageId } = await api("POST", `v2/dlq/retry/${enc(m.dlqId)}`);
      retry.closest("tr").remove();
      status.replaceChildren(h("p", { role: "status", class: "note" },
        `Retried ${m.dlqId} as `, link(messageId, `messages/${enc(messageId)}`)));
    }));
    // Two clicks: deleting drops the failed request for good.
    remove.addEventListener("click", () => {
      if (remove.dataset.armed !== "yes") {
        remove.dataset.armed = "yes";
        remove.textContent = "Confirm delete";
        return;
      }
      act(async () => {
        await api("DELETE", `v2/dlq/${enc(m.dlqId)}`);
        remove.closest("tr").remove();
        status.replaceChildren(note(`Deleted ${m.dlqId} from the DLQ.`));
      });
    });
    return h("span", { class: "actions" }, retry, " ", remove);
  };
  const list = paged(async (cursor) => {
    const page = await api("GET", "v2/dlq", { params: { count: PAGE, cursor } });
    return { rows: page.messages, cursor: page.cursor };
  }, [
    ["Message", (m) => link(m.dlqId, `messages/${enc(m.dlqId)}`)],
    ["URL", (m) => h("code", {}, m.url)],
    ["Response", (m) => response(m)],
    ["Retried", (m) => scalar("retried", m.retried)],
    ["Created", (m) => when(m.createdAt)],
    ["", actions],
  ], "The DLQ is empty.");
  await list.next();
  return h("div", {}, h("h2", {}, "Dead-letter queue"), status, list.node);
}

// --- events -----------------------------------------------------------------------------

const eventFilters = {}; // kept across tab switches
const TEXT_FILTERS = ["messageId", "url", "scheduleId", "label", "queueName"];

function filterParams(form) {
  const data = new FormData(form);
  const params = {};
  for (const [name, value] of data) if (value !== "") params[name] = value;
  for (const name of ["fromDate", "toDate"]) {
    // datetime-local is the viewer's local time; the API takes unix milliseconds.
    if (params[name]) params[name] = new Date(params[name]).getTime();
  }
  return params;
}

async function eventsView() {
  const input = (name, label, type = "text") => h("label", {}, label,
    h("input", { name, type, value: eventFilters[name] ?? "" }));
  const state = h("select", { name: "state" }, h("option", { value: "" }, "any"),
    EVENT_STATES.map((s) => h("option", { value: s, selected: eventFilters.state === s }, s)));
  const form = h("form", { class: "filters" },
    h("label", {}, "state", state),
    TEXT_FILTERS.map((name) => input(name, name)),
    input("fromDate", "from (local time)", "datetime-local"),
    input("toDate", "to (local time)", "datetime-local"),
    h("button", { type: "submit" }, "Filter"),
  );
  const results = h("div");
  async function search() {
    const raw = Object.fromEntries(new FormData(form));
    Object.keys(eventFilters).forEach((k) => delete eventFilters[k]);
    Object.assign(eventFilters, raw);
    const params = filterParams(form);
    const list = paged(async (cursor) => {
      const page = await api("GET", "v2/events", { params: { ...params, count: PAGE, cursor } });
      return { rows: page.events, cursor: page.cursor };
    }, [
      ["Time", (e) => when(e.time)],
      ["State", (e) => h("span", { class: `state ${e.state}` }, e.state)],
      ["Message", (e) => link(e.messageId, `messages/${enc(e.messageId)}`)],
      ["URL", (e) => h("code", {}, e.url)],
      ["Retried", (e) => scalar("retried", e.retried)],
      ["Response", (e) => response(e)],
    ], "No events match.");
    await list.next();
    results.replaceChildren(list.node);
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); act(search); });
  await search();
  return h("div", {}, h("h2", {}, "Event log"), form, results);
}

// --- flows ------------------------------------------------------------------------------

const STEP_MARKS = [["armedAt", "armed"], ["dueAt", "due"], ["sentAt", "sent"]];

// Each step on one line of a shared time axis: armed (hollow), due (tick), sent (filled).
function timeline(flow) {
  const times = flow.steps.flatMap((s) => STEP_MARKS.map(([k]) => s[k])).filter(Number.isFinite);
  if (!times.length) return note("No step has a time yet.");
  const start = Math.min(flow.createdAt ?? Infinity, ...times);
  const span = Math.max(Math.max(...times) - start, 1);
  const width = 820, left = 200, right = 70, row = 30, top = 30;
  const x = (t) => left + ((t - start) / span) * (width - left - right);
  const height = top + row * flow.steps.length + 10;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "timeline", role: "img",
    "aria-label": "step times" });
  const axis = top - 12;
  chart.append(svg("line", { x1: left, x2: width - right, y1: axis, y2: axis, class: "axis" }));
  chart.append(svg("text", { x: left, y: top - 18, class: "tick" }, "+0 s"));
  chart.append(svg("text", { x: width - right, y: top - 18, class: "tick", "text-anchor": "end" },
    `+${(span / 1000).toFixed(1)} s`));
  flow.steps.forEach((step, i) => {
    const y = top + i * row + row / 2;
    chart.append(svg("text", { x: 4, y: y + 4, class: "label" }, step.id));
    const marks = STEP_MARKS.filter(([k]) => Number.isFinite(step[k]));
    if (marks.length > 1) {
      const xs = marks.map(([k]) => x(step[k]));
      chart.append(svg("line",
        { x1: Math.min(...xs), x2: Math.max(...xs), y1: y, y2: y, class: "span" }));
    }
    for (const [k, kind] of marks) {
      const mark = kind === "due"
        ? svg("rect", { x: x(step[k]) - 1.5, y: y - 8, width: 3, height: 16, class: kind })
        : svg("circle", { cx: x(step[k]), cy: y, r: 5, class: kind });
      const at = ((step[k] - start) / 1000).toFixed(3);
      mark.append(svg("title", {}, `${step.id} ${kind} +${at} s`));
      chart.append(mark);
    }
    chart.append(svg("text",
      { x: width - right + 6, y: y + 4, class: `status ${step.status}` }, step.status));
  });
  const legend = h("p", { class: "legend" },
    "○ armed  ▮ due  ● sent; times from the flow's start");
  return h("div", {}, chart, legend);
}

async function flowView(id) {
  const form = h("form", { class: "filters" },
    h("label", {}, "flow id", h("input", { name: "flow", value: id ?? "", required: true })),
    h("button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go(`flow/${enc(new FormData(form).get("flow").trim())}`);
  });
  const parts = [h("h2", {}, "Flow ledger"), form];
  if (!id) return h("div", {}, parts, note("Enter a flow id to see its steps."));
  const [flow, log] = await Promise.all([
    api("GET", `v2/flows/${enc(id)}`),
    api("GET", `v2/flows/${enc(id)}/log`),
  ]);
  const offset = (t) =>
    (Number.isFinite(t) ? `+${((t - flow.createdAt) / 1000).toFixed(3)} s` : "—");
  parts.push(
    fields(flow, ["steps"]),
    h("h3", {}, "Timeline"), timeline(flow),
    h("h3", {}, "Steps"),
    table([
      ["Step", (s) => s.id],
      ["Status", (s) => h("span", { class: `state ${s.status}` }, s.status)],
      ["Attempts", (s) => scalar("attempts", s.attempts)],
      ...STEP_MARKS.map(([k, label]) => [label, (s) => offset(s[k])]),
      ["Last status", (s) => scalar("lastStatus", s.lastStatus)],
      ["Reason", (s) => scalar("reason", s.reason ?? s.lastError)],
    ], flow.steps, "No steps."),
    h("h3", {}, "Log"),
    table([
      ["Time", (e) => offset(e.time)],
      ["Event", (e) => e.event],
      ["Step", (e) => scalar("stepId", e.stepId)],
      ["Detail", (e) => generic(Object.fromEntries(Object.entries(e)
        .filter(([k]) => !["time", "event", "stepId"].includes(k))))],
    ], log.events, "No events."),
  );
  return h("div", {}, parts);
}

// --- stats ------------------------------------------------------------------------------

async function statsView() {
  const stats = await api("GET", "v2/stats");
  const entries = Object.entries(stats ?? {});
  const numbers = entries.filter(([, v]) => v == null || typeof v !== "object");
  const others = entries.filter(([, v]) => v != null && typeof v === "object");
  return h("div", {}, h("h2", {}, "Stats"),
    h("div", { class: "cards" }, numbers.map(([k, v]) => h("div", { class: "card" },
      h("span", { class: "value" }, scalar(k, v)), h("span", { class: "key" }, k)))),
    others.map(([k, v]) => [h("h3", {}, k), generic(v, k)]),
  );
}

// --- shell ------------------------------------------------------------------------------

const VIEWS = {
  messages: (id) => (id ? messageView(id) : messagesView()),
  schedules: schedulesView,
  dlq: dlqView,
  events: eventsView,
  flow: flowView,
  stats: statsView,
};
const $ = (selector) => document.querySelector(selector);
let shown = 0; // the latest navigation: a slower earlier one must not overwrite it

function route() {
  const [view, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const arg = rest.length ? decodeURIComponent(rest.join("/")) : null;
  return VIEWS[view] ? { view, arg } : { view: "messages", arg: null };
}

function showLogin(message) {
  $("#tabs").hidden = true;
  $("#signout").hidden = true;
  $("#view").hidden = true;
  $("#view").replaceChildren();
  $("#login").hidden = false;
  $("#login-error").hidden = !message;
  $("#login-error").textContent = message ?? "";
  $("#token").focus();
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  shown += 1;
  showLogin(message);
}

function fail(error) {
  if (error instanceof AuthError) {
    signOut(`The server refused this token (401: ${error.message}). Use the QSTASH_TOKEN ` +
      "that duetime dev printed, or the deployed API's token.");
    return;
  }
  $("#view").prepend(note(error.message, "error"));
}

function act(action) {
  action().catch(fail);
}

async function render() {
  if (!sessionStorage.getItem(TOKEN_KEY)) return showLogin();
  const { view, arg } = route();
  const mine = ++shown;
  for (const tab of document.querySelectorAll("#tabs [role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.view === view));
  }
  try {
    const node = await VIEWS[view](arg);
    if (mine !== shown) return;
    $("#view").replaceChildren(node);
  } catch (error) {
    if (mine !== shown) return;
    if (error instanceof AuthError) return fail(error);
    $("#view").replaceChildren(note(error.message, "error"));
  }
  // Only an answer the token was good for reveals the console.
  $("#login").hidden = true;
  $("#tabs").hidden = false;
  $("#signout").hidden = false;
  $("#view").hidden = false;
}

$("#login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("#token").value.trim();
  $("#token").value = "";
  if (!token) return showLogin("Enter the API token.");
  sessionStorage.setItem(TOKEN_KEY, token);
  render();
});
$("#signout").addEventListener("click", () => signOut());
for (const tab of document.querySelectorAll("#tabs [role=tab]")) {
  tab.addEventListener("click", () => {
    if (location.hash === `#${tab.dataset.view}`) render();
    else go(tab.dataset.view);
  });
}
window.addEventListener("hashchange", render);
render();
