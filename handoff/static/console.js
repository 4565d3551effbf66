// omnirelay agent console: vanilla JS over the agent JSON API and /api/events (SSE).
// Customer text never goes through innerHTML: every node is built with el() and textContent.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  me: null, csrf: "", tab: "queued", tickets: [], current: null, canned: {},
  events: null, refreshTimer: 0, seen: new Set(), live: [], leaving: null,
};
// A tab and the ticket statuses it lists ("offered": routed to an agent, not yet claimed).
// "conversations" lists customers, not tickets (conversations.js).
const TAB_STATUSES = { queued: "queued,offered", assigned: "assigned", closed: "closed" };
const EVENT_KINDS = ["ticket.created", "ticket.offered", "ticket.offer_expired", "ticket.escalated",
  "ticket.wait_lapsed", "ticket.message_left", "ticket.callback_requested", "ticket.message_chosen",
  "ticket.assigned", "ticket.transferred", "ticket.closed", "ticket.csat", "message.customer",
  "message.agent", "message.delivery"];
const FROM = new Set(["customer", "bot", "agent"]);
function fromLabel(from) { return t("from_" + (FROM.has(from) ? from : "bot")); }

// ---- small helpers ---------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, String(value));
    else node[key] = value;
  }
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// Replace a node's children, skipping the null/false of a `cond ? el(...) : null`:
// `replaceChildren` itself would show them as the text "null"/"false".
function fill(node, ...children) {
  node.replaceChildren(...children.filter((c) => c !== undefined && c !== null && c !== false));
  return node;
}

function badge(channel) {
  const name = String(channel || "unknown").toLowerCase();
  return el("span", { class: "badge " + name.replace(/[^a-z]/g, ""), "data-channel": name }, name);
}

// Set a node's text by its key and remember the key, so a change of language says it again.
function say(node, key, values) {
  node.textContent = t(key, values);
  if (values) delete node.dataset.i18n;
  else node.dataset.i18n = key;
  return node;
}

function notice(text, bad) {
  const box = $("notice");
  box.textContent = text;
  box.className = bad ? "bad" : "";
  box.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => { box.hidden = true; }, bad ? 8000 : 3000);
}

// The API sends UTC ISO times; one without a zone is read as UTC, not as local time.
function parseTime(iso) {
  if (!iso) return NaN;
  return Date.parse(/(Z|[+-]\d\d:?\d\d)$/.test(iso) ? iso : iso + "Z");
}

function since(iso) {
  const start = parseTime(iso);
  if (!iso || Number.isNaN(start)) return "";
  const minutes = Math.max(0, Math.floor((Date.now() - start) / 60000));
  return minutes < 1 ? t("just_now") : fmtDuration(minutes * 60);
}

function clock(iso, timeOnly) {
  const at = new Date(parseTime(iso));
  if (Number.isNaN(at.getTime())) return "";
  return timeOnly ? at.toLocaleTimeString(locale()) : at.toLocaleString(locale());
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let doc = null;
  try { doc = await res.json(); } catch (_) { doc = null; }
  if (res.status === 401) { showLogin(); throw new ApiError(401, t("log_in_again")); }
  if (!res.ok) {
    const message = (doc && (doc.error || doc.message)) || "HTTP " + res.status;
    throw new ApiError(res.status, message);
  }
  return doc;
}

// Run an action from a button or form; report failures without losing what was typed.
// `what` is the key of the action's name.
async function act(what, fn) {
  try { await fn(); } catch (e) { if (e.status !== 401) notice(t("failed", { what: t(what), error: e.message }), true); }
}

// ---- what the API sends, read in one place -------------------------------------------------

function customerOf(t) { return t.customer || {}; }
// The ticket list carries `customer_name` and `last_channel`; a ticket's detail has `customer`.
function customerName(t) {
  const c = customerOf(t);
  const named = (c.identities || []).find((i) => i.name);
  return t.customer_name || c.name || (named && named.name) || tr("customer_n", { id: c.id || t.customer_id || "?" });
}
function queueName(t) {
  const q = t.queue;
  if (!q || typeof q !== "object") return q || "";
  return [q.topic, q.language].filter(Boolean).join(" / ");
}
function isMine(t) {
  const me = state.me || {};
  return t.status === "assigned" && (me.id != null ? t.agent_id === me.id : assigneeOf(t) === me.name);
}
// Where the customer wrote last (and so where a reply goes); else where they escalated.
function channelOf(t) { return t.last_channel || customerOf(t).last_channel || t.channel || ""; }
function languageOf(t) { return t.language || customerOf(t).language || ""; }
function assigneeOf(t) {
  const a = t.agent || t.assigned_to || t.assignee;
  return a && typeof a === "object" ? a.name : a;
}
// A ticket's reason in words: a known code from the table, a proactive alert by its name, else
// the code itself ("customer_asked_for_a_person" -> "Customer asked for a person").
function reasonText(code) {
  const reason = String(code || "");
  if (reason.startsWith("alert:")) return tr("reason_alert", { name: reason.slice(6) });
  return TEXTS["reason_" + reason] ? tr("reason_" + reason) : humanize(reason);
}
function humanize(code) {
  const text = String(code || "").replaceAll("_", " ").trim();
  return text ? text[0].toUpperCase() + text.slice(1) : "";
}
function listOf(doc, key) { return Array.isArray(doc) ? doc : (doc && doc[key]) || []; }

// ---- login / logout / who am I -------------------------------------------------------------

function showLogin(message) {
  if (state.events) { state.events.close(); state.events = null; }
  state.me = null;
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").hidden = !message;
  $("login-error").textContent = message || "";
  for (const select of document.querySelectorAll("select.ui-lang")) select.value = I18N.lang;
  $("login-name").focus();
}

async function login(ev) {
  ev.preventDefault();
  const form = new URLSearchParams({ name: $("login-name").value, password: $("login-password").value });
  const res = await fetch("/console/login", { method: "POST", body: form, credentials: "same-origin" });
  $("login-password").value = "";
  if (!res.ok) { showLogin(loginError(res)); return; }
  await start();
}

// Why a login was refused: a wrong password, too many of them (the wait), or a foreign page.
function loginError(res) {
  if (res.status === 401) return t("wrong_password");
  if (res.status === 429) return t("locked", { s: res.headers.get("Retry-After") || t("a_few") });
  if (res.status === 403) return t("foreign_page");
  return t("login_failed", { status: res.status });
}

async function logout() {
  await act("a_logout", async () => {
    await fetch("/console/logout", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": state.csrf } });
    showLogin();
  });
}

async function start() {
  let me;
  try { me = await api("GET", "/api/me"); } catch (e) { if (e.status !== 401) showLogin(e.message); return; }
  state.me = me;
  state.csrf = me.csrf_token || me.csrf || "";
  $("login").hidden = true;
  $("app").hidden = false;
  $("me-name").textContent = me.name || "";
  say($("me-role"), "role_" + (["supervisor", "admin"].includes(me.role) ? me.role : "agent"));
  // the metrics dashboard is for supervisors (the server refuses it to agents as well)
  $("dashboard-link").hidden = !["supervisor", "admin"].includes(me.role);
  linkLanguage();
  // the audit log is for admins (the server refuses it to everyone else as well)
  $("audit-link").hidden = me.role !== "admin";
  renderStatus();
  await Promise.all([loadCanned(), loadTickets(), loadTransferTargets()]);
  listen();
}

function isOnline() {
  const me = state.me || {};
  return me.status ? me.status === "online" : Boolean(me.online);
}

// Where I am ("online": new tickets come to me) next to what the button does: a button
// reading "away" looked like a status, not like the way to go online. The button's words
// change with the state, so it is a plain action button (no aria-pressed: a toggle's name
// must not change when it is pressed).
function renderStatus() {
  const online = isOnline();
  const status = $("my-status");
  say(status, online ? "online" : "away");
  status.className = "status " + (online ? "online" : "away");
  status.title = t(online ? "online_title" : "away_title");
  const button = $("status-toggle");
  say(button, online ? "go_away" : "go_online");
  button.title = t(online ? "go_away_title" : "go_online_title");
}

async function toggleStatus() {
  await act("a_status", async () => {
    const next = isOnline() ? "away" : "online";
    const doc = await api("POST", "/api/me/status", { status: next });
    state.me = Object.assign({}, state.me, doc && doc.status ? doc : { status: next });
    renderStatus();
  });
}

// ---- queue view ----------------------------------------------------------------------------

async function loadTickets() {
  if (state.tab === "conversations") { await loadConversations(); return; }
  await act("a_tickets", async () => {
    const tab = state.tab;
    const doc = await api("GET", "/api/tickets?status=" + encodeURIComponent(TAB_STATUSES[tab]));
    if (tab !== state.tab) return;
    state.tickets = listOf(doc, "tickets");
    renderTickets();
  });
}

function renderTickets() {
  for (const button of $("tabs").querySelectorAll("button")) {
    button.setAttribute("aria-selected", String(button.dataset.status === state.tab));
  }
  const people = state.tab === "conversations";
  $("conversations").hidden = !people;
  $("tickets").hidden = people;
  if (people) { $("tickets-empty").hidden = true; renderConversations(); return; }
  for (const span of $("tabs").querySelectorAll(".count")) {
    span.textContent = span.dataset.count === state.tab ? "(" + state.tickets.length + ")" : "";
  }
  const rows = state.tickets.map((t) => {
    const waited = state.tab === "closed" ? "" : since(t.created_at);
    const li = el("li", { tabIndex: 0, "data-ticket": t.id, class: state.current && state.current.id === t.id ? "current" : "" },
      el("div", { class: "row1" }, el("span", { class: "name" }, customerName(t)), badge(channelOf(t)),
        el("span", { class: "tag", title: tr("language") }, languageOf(t))),
      el("div", { class: "row2" }, el("span", { class: "reason" }, reasonText(t.reason)),
        assigneeOf(t) ? el("span", {}, t.status === "offered" ? tr("offered_to", { name: assigneeOf(t) }) : "→ " + assigneeOf(t)) : null,
        waited ? el("span", { class: "waiting", title: tr("waiting") }, waited) : null));
    li.addEventListener("click", () => openTicket(t.id));
    li.addEventListener("keydown", (ev) => { if (ev.key === "Enter") openTicket(t.id); });
    return li;
  });
  $("tickets").replaceChildren(...rows);
  $("tickets-empty").hidden = rows.length > 0;
}

function switchTab(tab) {
  state.tab = tab;
  state.tickets = [];
  renderTickets();
  loadTickets();
}

// ---- live updates --------------------------------------------------------------------------

function listen() {
  if (state.events) state.events.close();
  const source = new EventSource("/api/events");
  state.events = source;
  const live = $("live");
  source.onopen = () => { say(live, "live"); live.className = "live on"; };
  source.onerror = () => {
    say(live, "reconnecting");
    live.className = "live";
    if (source.readyState === EventSource.CLOSED) setTimeout(start, 3000);
  };
  source.onmessage = (ev) => onEvent("message", ev.data);
  for (const kind of EVENT_KINDS) source.addEventListener(kind, (ev) => onEvent(kind, ev.data));
}

function onEvent(name, raw) {
  let data = {};
  try { data = JSON.parse(raw || "{}") || {}; } catch (_) { data = {}; }
  if (data.id) {  // delivery is at least once
    if (state.seen.has(data.id)) return;
    state.seen.add(data.id);
    if (state.seen.size > 2000) state.seen = new Set([data.id]);
  }
  const ticketId = data.ticket_id;
  const current = state.current;
  if (name === "message.customer" && current && String(ticketId) === String(current.id)) {
    const m = data.data || {};
    // A tap without a title or a shared contact has no text to show yet: the reload that
    // follows shows it as the transcript words it (the button's title, "shared phone …").
    if (m.text) {
      state.live.push({ at: m.at || data.at, channel: m.channel, from: "customer", text: m.text,
        payload: m.payload, kind: m.payload ? "button" : null });
      renderTimeline(withLive(current.transcript || []), false);
    }
  }
  if (name === "message.delivery" && current && String(ticketId) === String(current.id)) {
    const d = data.data || {};
    for (const m of current.transcript || []) {
      if (m.id === d.message_id) { m.status = d.delivery; m.error = d.error; }
    }
    renderTimeline(withLive(current.transcript || []), false);
    if (d.delivery && d.delivery !== "sent") notice(t("not_delivered", { error: d.error || d.delivery }), true);
  }
  // Coalesce bursts: one queue refresh (and one ticket refresh) per 150 ms.
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => {
    loadTickets();
    const shown = state.current && String(ticketId) === String(state.current.id);
    if (shown && String(ticketId) !== String(state.leaving)) {
      openTicket(state.current.id);
    }
  }, 150);
  if (name === "ticket.created") notice(t("new_ticket"));
  else if (name === "ticket.offered" && state.me && data.agent_id === state.me.id) notice(t("offered_to_you"));
}

// ---- the interface language --------------------------------------------------------------

// After a change of language: what the scripts wrote is said again (the texts with a
// data-i18n key are, by setLanguage), and the links to the other pages keep the language.
function relabel() {
  linkLanguage();
  if (!state.me) return;
  renderStatus();
  renderTickets();
  if (state.current) renderTicket(false);
  loadTransferTargets();
}

function linkLanguage() {
  $("dashboard-link").href = withLanguage("/console/dashboard");
  $("audit-link").href = withLanguage("/console/audit");
}

// ---- wiring --------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  setLanguage(pickLanguage(), false);
  wireLanguageSelects(relabel);
  $("login-form").addEventListener("submit", (ev) => act("a_login", () => login(ev)));
  $("logout").addEventListener("click", logout);
  $("status-toggle").addEventListener("click", toggleStatus);
  for (const button of $("tabs").querySelectorAll("button")) {
    button.addEventListener("click", () => switchTab(button.dataset.status));
  }
  $("claim").addEventListener("click", claim);
  $("take-over").addEventListener("click", takeOver);
  $("reply-form").addEventListener("submit", reply);
  $("close-form").addEventListener("submit", closeTicket);
  $("transfer-form").addEventListener("submit", transfer);
  $("canned").addEventListener("change", pickCanned);
  $("reply-text").addEventListener("keydown", (ev) => {  // Ctrl+Enter sends
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) $("reply-form").requestSubmit();
  });
  setInterval(() => { if (state.me) renderTickets(); }, 30000);  // waiting times move on
  start();
});
