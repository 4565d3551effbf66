// omnirelay agent console: the ticket view (profile, timeline, claim, reply, transfer,
// close, canned replies). Loaded after console.js, whose helpers and state it uses.
"use strict";

// ---- ticket view ---------------------------------------------------------------------------

async function openTicket(id) {
  await act("Ticket", async () => {
    let t;
    try {
      t = await api("GET", "/api/tickets/" + encodeURIComponent(id));
    } catch (e) {
      if (e.status !== 403 && e.status !== 404) throw e;
      if (state.current && String(state.current.id) === String(id)) closeView();
      notice("That ticket is no longer in your queues.");
      return;
    }
    const switched = !state.current || state.current.id !== t.id;
    if (switched) { state.live = []; loadTransferTargets(); }
    state.current = t;
    renderTicket(switched);
    renderTickets();
  });
}

function closeView() {
  state.current = null;
  state.live = [];
  $("ticket").hidden = true;
  $("placeholder").hidden = false;
  renderTickets();
}

function field(list, label, value) {
  if (value === undefined || value === null || value === "") return;
  list.append(el("dt", {}, label), el("dd", {}, typeof value === "object" ? JSON.stringify(value) : value));
}

// The bot's context in words: a slot's name as a label, a known value as what it means
// ("customer_chose: message" read as a raw key); names starting with "_" are the flow's own.
const SLOT_LABEL = { customer_chose: "Customer chose", callback_phone: "Call back on",
  order_number: "Order", staff_id: "Specialist (id)", starts_at: "Starts at" };
const SLOT_VALUE = { customer_chose: { message: "to leave a message", callback: "a call back" } };
function slotLabel(name) { return SLOT_LABEL[name] || humanize(name); }
function slotValue(name, value) {
  const known = SLOT_VALUE[name];
  return known && typeof value === "string" && known[value] ? known[value] : value;
}

function renderTicket(switched) {
  const t = state.current;
  $("placeholder").hidden = true;
  $("ticket").hidden = false;
  $("ticket").dataset.ticket = t.id;
  $("ticket").dataset.status = t.status || "";
  $("ticket-title").textContent = customerName(t);
  fill($("ticket-meta"),
    badge(channelOf(t)), el("span", { class: "tag", title: "language" }, languageOf(t)),
    el("span", { class: "tag", id: "ticket-status" }, t.status || ""),
    t.queue ? el("span", { class: "tag", title: "queue" }, "queue: " + queueName(t)) : null,
    t.priority ? el("span", { class: "tag", title: "priority" }, "priority: " + t.priority) : null,
    assigneeOf(t) ? el("span", { class: "tag" }, "agent: " + assigneeOf(t)) : null,
    el("span", {}, humanize(t.reason)));

  const c = customerOf(t);
  const profile = $("profile-fields");
  profile.replaceChildren();
  field(profile, "Name", c.name);
  field(profile, "Phone", c.phone);
  field(profile, "E-mail", c.email);
  field(profile, "Language", c.language || t.language);
  for (const id of c.identities || []) {
    field(profile, id.channel || "channel", [id.name, id.external_id].filter(Boolean).join(" · "));
  }
  field(profile, "Since", c.created_at && clock(c.created_at));
  const context = $("context-fields");
  context.replaceChildren();
  field(context, "Reason", humanize(t.reason));
  field(context, "Intent", t.intent);
  for (const [name, value] of Object.entries(t.slots || {})) {
    if (!name.startsWith("_")) field(context, slotLabel(name), slotValue(name, value));
  }
  field(context, "Unfinished task", t.task && (t.task.flow || t.task));
  field(context, "Created", t.created_at && clock(t.created_at));
  field(context, "Resolution", t.resolution);
  field(context, "CSAT", t.csat);

  renderTimeline(withLive(t.transcript || []), switched);
  const open = t.status !== "closed";
  const mine = isMine(t);
  $("claim").hidden = !open || Boolean(mine);
  $("take-over").hidden = open;  // a closed ticket: pick the conversation up again
  $("transfer-form").hidden = !open;
  $("close-form").hidden = !open;
  $("reply-form").hidden = !open;
  $("reply-send").disabled = !mine;
  $("reply-text").placeholder = mine ? "Reply to the customer…" : "Claim the ticket to reply.";
  fillCanned(languageOf(t));
}

// A relayed customer message is shown from its live event at once; the ticket reload that
// follows (the worker publishes only after the transcript has it) replaces it. Until then it
// is kept, and dropped once the transcript has it (same sender, channel, text, within a few
// seconds), so it is never shown twice.
function withLive(transcript) {
  const used = new Set();
  state.live = state.live.filter((m) => {
    const at = parseTime(m.at);
    const index = transcript.findIndex((r, i) => !used.has(i) && r.from === m.from
      && r.channel === m.channel && r.text === m.text && Math.abs(parseTime(r.at) - at) < 5000);
    if (index < 0) return true;
    used.add(index);
    return false;
  });
  return transcript.concat(state.live);
}

// How an agent's reply fared: from its transcript line, updated live by `message.delivery`.
const DELIVERY_LABEL = { pending: "sending…", sent: "✓ sent", delivered: "✓ delivered", seen: "✓ seen",
  failed: "✗ not delivered", undeliverable: "✗ undeliverable" };

// What was decided about proactive messages (deferred to the morning, capped, suppressed after an
// opt-out, unreachable, expired, cancelled), between the messages, at its time. A sent one is in
// the transcript itself, marked "proactive".
function withDecisions(transcript) {
  const decisions = ((state.current && state.current.proactive) || [])
    .filter((d) => d.decision !== "sent")
    .map((d) => Object.assign({ kind: "decision" }, d));
  if (!decisions.length) return transcript;
  return transcript.concat(decisions)
    .map((m, i) => [m, i])
    .sort((a, b) => (parseTime(a[0].at) - parseTime(b[0].at)) || (a[1] - b[1]))
    .map((p) => p[0]);
}

function decisionLine(d) {
  const what = d.scenario + " #" + (Number(d.step) + 1) + ": " + d.decision + (d.reason ? " (" + d.reason + ")" : "");
  return el("div", { class: "msg decision", "data-decision": d.decision, "data-job": d.job_id },
    el("div", { class: "who" }, d.channel ? badge(d.channel) : null, el("span", {}, "Proactive · " + d.topic),
      el("time", { dateTime: d.at || "", title: clock(d.at) }, clock(d.at, true))),
    el("div", { class: "text" }, what));
}

// What the customer did, as the server words it (`shown`): a tapped button's title, "shared phone
// +380…"; a live line carries the typed text only.
function shownText(m) {
  const text = m.shown != null ? m.shown : m.text;
  return m.kind === "button" && text ? "▸ " + text : text || "";
}

function renderTimeline(transcript, switched) {
  const box = $("timeline");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.replaceChildren(...withDecisions(transcript).map((m) => {
    if (m.kind === "decision") return decisionLine(m);
    const from = FROM_LABEL[m.from] ? m.from : "bot";
    const status = from === "agent" && DELIVERY_LABEL[m.status] ? m.status : null;
    const failed = status === "failed" || status === "undeliverable";
    return el("div", { class: "msg from-" + from, "data-from": from, "data-message": m.id, "data-delivery": status },
      el("div", { class: "who" }, badge(m.channel), el("span", {}, FROM_LABEL[from]),
        m.proactive ? el("span", { class: "tag proactive", title: "sent first by the bot" }, "proactive · " + m.proactive.scenario) : null,
        el("time", { dateTime: m.at || "", title: clock(m.at) }, clock(m.at, true)),
        status ? el("span", { class: "delivery " + status, title: m.error || "" }, DELIVERY_LABEL[status]) : null),
      el("div", { class: "text" + (m.kind ? " " + m.kind : ""), "data-kind": m.kind || null },
        shownText(m)),
      failed && m.error ? el("div", { class: "delivery-error" }, m.error) : null);
  }));
  if (switched || atBottom) box.scrollTop = box.scrollHeight;
}

async function ticketAction(path, body, done) {
  const t = state.current;
  if (!t) return;
  await act(done, async () => {
    await api("POST", "/api/tickets/" + encodeURIComponent(t.id) + path, body);
    notice(done);
    await Promise.all([openTicket(t.id), loadTickets()]);
  });
}

function claim() { return ticketAction("/claim", undefined, "Claimed"); }

// Take a customer's conversation over on one's own (`POST /api/tickets`): a new ticket,
// assigned to me, or the customer's open one if they escalated meanwhile.
async function takeOver() {
  const t = state.current;
  if (!t) return;
  await act("Take over", async () => {
    const taken = await api("POST", "/api/tickets", { customer_id: t.customer_id });
    notice("The conversation is yours");
    if (state.tab !== "assigned") switchTab("assigned");
    await openTicket(taken.id);
  });
}

async function reply(ev) {
  ev.preventDefault();
  const text = $("reply-text").value.trim();
  if (!text || !state.current || $("reply-send").disabled) return;
  $("reply-send").disabled = true;
  const t = state.current;
  await act("Reply", async () => {
    await api("POST", "/api/tickets/" + encodeURIComponent(t.id) + "/messages", { text });
    $("reply-text").value = "";
    await openTicket(t.id);
  });
  $("reply-send").disabled = false;
}

async function closeTicket(ev) {
  ev.preventDefault();
  const resolution = $("resolution").value.trim();
  if (!resolution) return;
  await ticketAction("/close", { resolution }, "Closed");
  $("resolution").value = "";
}

async function transfer(ev) {
  ev.preventDefault();
  const target = $("transfer-target").value;
  if (!target) return;
  const [kind, a, b] = target.split(":");
  const body = kind === "agent" ? { agent_id: Number(a) } : { topic: a, language: b };
  const t = state.current;
  if (!t) return;
  state.leaving = t.id;  // its events may arrive before the answer: don't reload it meanwhile
  await act("Transfer", async () => {
    await api("POST", "/api/tickets/" + encodeURIComponent(t.id) + "/transfer", body);
    notice("Transferred");
    // the ticket has left this agent; a supervisor still sees it where it went
    if (state.me && (state.me.role === "supervisor" || state.me.role === "admin")) await openTicket(t.id);
    else closeView();
    await loadTickets();
  });
  state.leaving = null;
}

async function loadTransferTargets() {
  const select = $("transfer-target");
  const options = [el("option", { value: "" }, "queue or agent…")];
  // Every queue a ticket may go to (also teams this agent is not part of), then the agents.
  await act("Transfer targets", async () => {
    for (const q of listOf(await api("GET", "/api/queues?all=1"), "queues")) {
      const note = " (" + (q.waiting || 0) + " waiting, " + (q.online || 0) + " online)";
      options.push(el("option", { value: "queue:" + q.topic + ":" + q.language },
        "Queue: " + q.topic + " / " + q.language + note));
    }
    for (const a of listOf(await api("GET", "/api/agents/names"), "agents")) {
      if (state.me && a.id === state.me.id) continue;
      options.push(el("option", { value: "agent:" + a.id }, "Agent: " + a.name + " (" + (a.status || "away") + ")"));
    }
  });
  select.replaceChildren(...options);
}

// ---- canned replies ------------------------------------------------------------------------

async function loadCanned() {
  try { state.canned = (await api("GET", "/console/canned")) || {}; } catch (_) { state.canned = {}; }
}

function fillCanned(language) {
  const replies = state.canned[language] || state.canned.en || [];
  $("canned").replaceChildren(el("option", { value: "" }, "Canned replies…"),
    ...replies.map((r, i) => el("option", { value: String(i) }, r.title)));
  $("canned").dataset.language = state.canned[language] ? language : "en";
}

function pickCanned() {
  const select = $("canned");
  const replies = state.canned[select.dataset.language] || [];
  const chosen = replies[Number(select.value)];
  if (select.value !== "" && chosen) {
    $("reply-text").value = chosen.text.replaceAll("{agent}", (state.me && state.me.name) || "");
    $("reply-text").focus();
  }
  select.value = "";
}
