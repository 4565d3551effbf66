// omnirelay agent console: the ticket view (profile, timeline, claim, reply, transfer,
// close, canned replies). Loaded after console.js, whose helpers and state it uses.
"use strict";

// ---- ticket view ---------------------------------------------------------------------------

async function openTicket(id) {
  await act("a_ticket", async () => {
    let t;
    try {
      t = await api("GET", "/api/tickets/" + encodeURIComponent(id));
    } catch (e) {
      if (e.status !== 403 && e.status !== 404) throw e;
      if (state.current && String(state.current.id) === String(id)) closeView();
      notice(t("gone"));
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

// The bot's context in words: a slot's name as a label (`slot_<name>` in the texts), a known
// value as what it means ("customer_chose: message" read as a raw key); names starting with "_"
// are the flow's own. A business's own slot without a text is shown by its name in words.
const SLOT_VALUE = { customer_chose: { message: "chose_message", callback: "chose_callback" } };
function slotLabel(name) { return TEXTS["slot_" + name] ? t("slot_" + name) : humanize(name); }
function slotValue(name, value) {
  const known = SLOT_VALUE[name];
  return known && typeof value === "string" && known[value] ? t(known[value]) : value;
}
// A ticket's status, a language code, a proactive decision: in words where the texts know them.
function wordFor(prefix, code) { return TEXTS[prefix + code] ? t(prefix + code) : String(code || ""); }

function renderTicket(switched) {
  const t = state.current;
  $("placeholder").hidden = true;
  $("ticket").hidden = false;
  $("ticket").dataset.ticket = t.id;
  $("ticket").dataset.status = t.status || "";
  $("ticket-title").textContent = customerName(t);
  fill($("ticket-meta"),
    badge(channelOf(t)), el("span", { class: "tag", title: tr("language") }, languageOf(t)),
    el("span", { class: "tag", id: "ticket-status", "data-status": t.status || "" }, wordFor("st_", t.status)),
    t.queue ? el("span", { class: "tag", title: tr("queue_title") }, tr("queue_tag", { name: queueName(t) })) : null,
    t.priority ? el("span", { class: "tag", title: tr("priority_title") }, tr("priority_tag", { n: t.priority })) : null,
    assigneeOf(t) ? el("span", { class: "tag" }, tr("agent_tag", { name: assigneeOf(t) })) : null,
    el("span", {}, reasonText(t.reason)));

  const c = customerOf(t);
  const profile = $("profile-fields");
  profile.replaceChildren();
  field(profile, tr("f_name"), c.name);
  field(profile, tr("f_phone"), c.phone);
  field(profile, tr("f_email"), c.email);
  field(profile, tr("language"), wordFor("lang_", c.language || t.language));
  for (const id of c.identities || []) {
    field(profile, id.channel || tr("f_channel"), [id.name, id.external_id].filter(Boolean).join(" · "));
  }
  field(profile, tr("f_since"), c.created_at && clock(c.created_at));
  const context = $("context-fields");
  context.replaceChildren();
  field(context, tr("f_reason"), reasonText(t.reason));
  field(context, tr("f_intent"), t.intent && intentLabel(t.intent));
  for (const [name, value] of Object.entries(t.slots || {})) {
    if (!name.startsWith("_")) field(context, slotLabel(name), slotValue(name, value));
  }
  const task = t.task && (t.task.flow || t.task);
  const taskWords = typeof task === "string" ? wordFor("task_", task) : task;  // a flow's name
  field(context, tr("f_task"), taskWords);
  field(context, tr("f_created"), t.created_at && clock(t.created_at));
  field(context, tr("resolution"), t.resolution);
  field(context, tr("f_csat"), t.csat);

  renderTimeline(withLive(t.transcript || []), switched);
  const open = t.status !== "closed";
  const mine = isMine(t);
  $("claim").hidden = !open || Boolean(mine);
  $("take-over").hidden = open;  // a closed ticket: pick the conversation up again
  $("transfer-form").hidden = !open;
  $("close-form").hidden = !open;
  $("reply-form").hidden = !open;
  $("reply-send").disabled = !mine;
  $("reply-text").dataset.i18nPlaceholder = mine ? "reply_placeholder" : "claim_to_reply";
  $("reply-text").placeholder = tr($("reply-text").dataset.i18nPlaceholder);
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
// (`d_<status>` in the texts)
const DELIVERY = new Set(["pending", "sent", "delivered", "seen", "failed", "undeliverable"]);

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
  const what = d.scenario + " #" + (Number(d.step) + 1) + ": " + wordFor("dec_", d.decision) + (d.reason ? " (" + d.reason + ")" : "");
  return el("div", { class: "msg decision", "data-decision": d.decision, "data-job": d.job_id },
    el("div", { class: "who" }, d.channel ? badge(d.channel) : null, el("span", {}, t("proactive_by", { topic: d.topic })),
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
    const from = FROM.has(m.from) ? m.from : "bot";
    const status = from === "agent" && DELIVERY.has(m.status) ? m.status : null;
    const failed = status === "failed" || status === "undeliverable";
    return el("div", { class: "msg from-" + from, "data-from": from, "data-message": m.id, "data-delivery": status },
      el("div", { class: "who" }, badge(m.channel), el("span", {}, fromLabel(from)),
        m.proactive ? el("span", { class: "tag proactive", title: t("proactive_title") }, t("proactive_tag", { scenario: m.proactive.scenario })) : null,
        el("time", { dateTime: m.at || "", title: clock(m.at) }, clock(m.at, true)),
        status ? el("span", { class: "delivery " + status, title: m.error || "" }, t("d_" + status)) : null),
      el("div", { class: "text" + (m.kind ? " " + m.kind : ""), "data-kind": m.kind || null },
        shownText(m)),
      failed && m.error ? el("div", { class: "delivery-error" }, m.error) : null);
  }));
  if (switched || atBottom) box.scrollTop = box.scrollHeight;
}

// `what` names the action, `done` what the notice says after it (keys of the texts).
async function ticketAction(path, body, what, done) {
  const t = state.current;
  if (!t) return;
  await act(what, async () => {
    await api("POST", "/api/tickets/" + encodeURIComponent(t.id) + path, body);
    notice(tr(done));
    await Promise.all([openTicket(t.id), loadTickets()]);
  });
}

function claim() { return ticketAction("/claim", undefined, "a_claim", "claimed"); }

// Take a customer's conversation over on one's own (`POST /api/tickets`): a new ticket,
// assigned to me, or the customer's open one if they escalated meanwhile.
async function takeOver() {
  const t = state.current;
  if (!t) return;
  await act("a_take_over", async () => {
    const taken = await api("POST", "/api/tickets", { customer_id: t.customer_id });
    notice(tr("yours"));
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
  await act("a_reply", async () => {
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
  await ticketAction("/close", { resolution }, "a_close", "closed");
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
  await act("a_transfer", async () => {
    await api("POST", "/api/tickets/" + encodeURIComponent(t.id) + "/transfer", body);
    notice(tr("transferred"));
    // the ticket has left this agent; a supervisor still sees it where it went
    if (state.me && (state.me.role === "supervisor" || state.me.role === "admin")) await openTicket(t.id);
    else closeView();
    await loadTickets();
  });
  state.leaving = null;
}

async function loadTransferTargets() {
  const select = $("transfer-target");
  const options = [el("option", { value: "" }, t("pick_target"))];
  // Every queue a ticket may go to (also teams this agent is not part of), then the agents.
  await act("a_targets", async () => {
    for (const q of listOf(await api("GET", "/api/queues?all=1"), "queues")) {
      options.push(el("option", { value: "queue:" + q.topic + ":" + q.language }, t("target_queue",
        { topic: q.topic, language: q.language, waiting: q.waiting || 0, online: q.online || 0 })));
    }
    for (const a of listOf(await api("GET", "/api/agents/names"), "agents")) {
      if (state.me && a.id === state.me.id) continue;
      const status = t(a.status === "online" ? "online" : "away");
      options.push(el("option", { value: "agent:" + a.id }, t("target_agent", { name: a.name, status })));
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
  $("canned").replaceChildren(el("option", { value: "" }, t("canned_pick")),
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
