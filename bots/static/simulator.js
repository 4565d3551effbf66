// The simulator page: one customer, three messenger tabs. The server builds and signs each
// platform's payload and calls the real webhook; replies come from the platform sandboxes.
"use strict";

const CHANNELS = ["telegram", "viber", "instagram"];
const STORE = "omnirelay-simulator";
const saved = JSON.parse(localStorage.getItem(STORE) || "{}");
const NAMES = ["Olena", "Taras", "Iryna", "Mykola", "Oksana", "Andrii", "Sofiia", "Dmytro",
  "Kateryna", "Bohdan", "Marta", "Yurii"];
const state = {
  person: saved.person || newKey(),
  name: saved.name || newName(),
  phone: saved.phone || newPhone(),
  language: saved.language || "uk",
  viberOpened: saved.viberOpened || false,
  after: {telegram: 0, viber: 0, instagram: 0},
  generation: 0, // bumped by "New person": stale polls stop
  sent: {}, // channel -> [{after, text, shown}]: what the person sent (see `remember`)
};

function newKey() {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return "p" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function randomBelow(n) {
  const word = new Uint32Array(1);
  crypto.getRandomValues(word);
  return word[0] % n;
}

// A new person is somebody else: another name, and a phone of their own (a phone they share
// links their messengers into one profile, so the previous person's phone would make them the
// previous person).
function newName(previous) {
  const names = NAMES.filter((n) => n !== previous);
  return names[randomBelow(names.length)];
}

function newPhone() {
  const codes = ["50", "63", "66", "67", "68", "73", "93", "95", "96", "97", "98", "99"];
  return "+380" + codes[randomBelow(codes.length)] + String(randomBelow(1e7)).padStart(7, "0");
}

function save() {
  const {person, name, phone, language, viberOpened} = state;
  localStorage.setItem(STORE, JSON.stringify({person, name, phone, language, viberOpened}));
}

function personFields() {
  return {person: state.person, name: state.name, phone: state.phone, language: state.language};
}

const $ = (sel, root = document) => root.querySelector(sel);
const section = (channel) => document.getElementById("tab-" + channel);

function bubble(channel, text, cls, meta) {
  const log = $(".log", section(channel));
  const div = document.createElement("div");
  div.className = "msg " + cls;
  div.textContent = text;
  if (meta) {
    const small = document.createElement("span");
    small.className = "meta";
    small.textContent = meta;
    div.appendChild(small);
  }
  log.appendChild(div);
  log.scrollTop = log.scrollHeight;
  return div;
}

// The platforms' sandboxes replay only the bot's side: what the person sent is kept in this
// browser, each with the last reply seen when it was sent, so a reload draws it where it was.
const SENT_STORE = "omnirelay-simulator-sent";

function loadSent() {
  let all = {};
  try { all = JSON.parse(localStorage.getItem(SENT_STORE) || "{}"); } catch (e) { all = {}; }
  const mine = (all && all.person === state.person && all.sent) || {};
  state.sent = {};
  for (const channel of CHANNELS) {
    state.sent[channel] = (mine[channel] || []).map((m) => ({after: m.after, text: m.text}));
  }
}

function remember(channel, text) {
  const list = state.sent[channel];
  list.push({after: state.after[channel], text, shown: true});
  if (list.length > 200) list.splice(0, list.length - 200);
  const sent = {};
  for (const c of CHANNELS) sent[c] = state.sent[c].map((m) => ({after: m.after, text: m.text}));
  try { localStorage.setItem(SENT_STORE, JSON.stringify({person: state.person, sent})); } catch (e) { /* full */ }
}

// Draw the person's messages sent before the reply `seq` (all of them: Infinity) not drawn yet.
function replaySent(channel, seq) {
  for (const m of state.sent[channel]) {
    if (m.shown || m.after >= seq) continue;
    m.shown = true;
    bubble(channel, m.text, "me");
  }
}

async function send(channel, body, shown) {
  if (shown) { bubble(channel, shown, "me"); remember(channel, shown); }
  try {
    const res = await fetch(`/simulator/${channel}/send`, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(Object.assign(personFields(), body)),
    });
    const doc = await res.json();
    if (!res.ok) bubble(channel, doc.error || "HTTP " + res.status, "err");
    else if (doc.webhook_status >= 300) {
      bubble(channel, `the webhook answered HTTP ${doc.webhook_status}`, "err");
    }
  } catch (e) {
    bubble(channel, "network error: " + e, "err");
  }
}

function button(label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

function sharePhone(channel) {
  send(channel, {action: "contact"}, "📞 " + state.phone);
}

// ---- Telegram: inline keyboards under the message, reply keyboards above the input ----------

function renderTelegram(d) {
  const sec = section("telegram");
  bubble("telegram", d.text || "", "bot");
  const markup = d.markup || {};
  if (markup.inline_keyboard) {
    const box = document.createElement("div");
    box.className = "tg-inline";
    for (const row of markup.inline_keyboard) {
      const line = document.createElement("div");
      line.className = "row";
      for (const b of row) {
        if (b.url) {  // a url button opens its address; nothing goes back to the bot
          line.appendChild(linkButton(b.text, b.url));
          continue;
        }
        const el = button(b.text, () => send("telegram",
          {action: "button", payload: b.callback_data, message_id: d.extra.message_id}, b.text));
        el.dataset.payload = b.callback_data;
        line.appendChild(el);
      }
      box.appendChild(line);
    }
    $(".log", sec).appendChild(box);
  }
  const panel = $(".tg-reply-keyboard", sec);
  if (markup.keyboard) {
    panel.replaceChildren();
    for (const row of markup.keyboard) {
      const line = document.createElement("div");
      line.className = "row";
      for (const b of row) {
        line.appendChild(button(b.text, () => {
          if (markup.one_time_keyboard) panel.hidden = true;
          if (b.request_contact) sharePhone("telegram");
          else send("telegram", {action: "text", text: b.text}, b.text);
        }));
      }
      panel.appendChild(line);
    }
    panel.hidden = false;
  } else if (markup.remove_keyboard) {
    panel.hidden = true;
  }
}

// ---- Viber: the last message's keyboard, a 6-column grid above the input --------------------

function renderViber(d) {
  bubble("viber", d.text || "", "bot");
  const panel = $(".viber-keyboard", section("viber"));
  panel.replaceChildren();
  const keyboard = d.markup;
  if (!keyboard || !keyboard.Buttons) {
    panel.hidden = true;
    return;
  }
  for (const b of keyboard.Buttons) {
    if (b.ActionType === "open-url") {
      const link = linkButton(b.Text || b.ActionBody, b.ActionBody);
      link.style.gridColumn = `span ${b.Columns || 6}`;
      link.dataset.action = b.ActionType;
      panel.appendChild(link);
      continue;
    }
    const el = button(b.Text || b.ActionBody, () => {
      if (b.ActionType === "share-phone") sharePhone("viber");
      else if (b.ActionType === "reply") {
        // Viber sends the ActionBody back as the text, with the message's tracking_data.
        send("viber", {action: "button", text: b.ActionBody,
          tracking_data: d.extra.tracking_data || null}, b.Text);
      }
    });
    el.style.gridColumn = `span ${b.Columns || 6}`;
    el.dataset.action = b.ActionType;
    el.dataset.payload = b.ActionBody;
    panel.appendChild(el);
  }
  panel.hidden = false;
}

// ---- Instagram: quick replies as pills, gone once one is tapped ----------------------------

function renderInstagram(d) {
  bubble("instagram", d.text || "", "bot");
  const panel = $(".ig-quick-replies", section("instagram"));
  panel.replaceChildren();
  if (d.markup && d.markup.template_type === "button") {
    // a button template: up to three buttons under the message (links or postbacks)
    panel.hidden = true;
    const box = document.createElement("div");
    box.className = "ig-template";
    for (const b of d.markup.buttons || []) {
      if (b.type === "web_url") box.appendChild(linkButton(b.title, b.url));
      else {
        const el = button(b.title, () => send("instagram",
          {action: "postback", text: b.title, payload: b.payload}, b.title));
        el.dataset.payload = b.payload;
        box.appendChild(el);
      }
    }
    $(".log", section("instagram")).appendChild(box);
    return;
  }
  if (!d.markup || !d.markup.length) {
    panel.hidden = true;
    return;
  }
  for (const q of d.markup) {
    const el = button(q.title, () => {
      panel.hidden = true;
      send("instagram", {action: "button", text: q.title, payload: q.payload}, q.title);
    });
    el.dataset.payload = q.payload;
    panel.appendChild(el);
  }
  panel.hidden = false;
}

const RENDER = {telegram: renderTelegram, viber: renderViber, instagram: renderInstagram};

// "Continue in Telegram / Viber / Instagram" deep links: opening one on its tab is what the
// platform does (Telegram `/start CODE`, Viber `conversation_started` with `context`, an
// Instagram `referral` with `ref`).
const DEEP_LINKS = [
  [/https:\/\/t\.me\/[A-Za-z0-9_]+\?start=([A-Za-z0-9_-]+)/g, "telegram"],
  [/viber:\/\/pa\?[^\s]*context=([A-Za-z0-9_-]+)/g, "viber"],
  [/https:\/\/ig\.me\/m\/[A-Za-z0-9_.]+\?ref=([A-Za-z0-9_-]+)/g, "instagram"],
];

function deepLinks(channel, text) {
  for (const [pattern, target] of DEEP_LINKS) {
    for (const match of (text || "").matchAll(pattern)) {
      const code = match[1];
      const el = button(`Open in the ${target} tab`, () => openDeepLink(target, code));
      el.className = "deep-link";
      el.dataset.channel = target;
      $(".log", section(channel)).appendChild(el);
    }
  }
}

// The simulated channel and code a link button's address opens, or null for any other page.
function deepLinkTarget(url) {
  let u;
  try { u = new URL(url); } catch (e) { return null; }
  const q = u.searchParams;
  if (u.protocol === "https:" && u.hostname === "t.me" && q.get("start")) {
    return {channel: "telegram", code: q.get("start")};
  }
  if (u.protocol === "viber:" && q.get("context")) return {channel: "viber", code: q.get("context")};
  if (u.protocol === "https:" && u.hostname === "ig.me" && q.get("ref")) {
    return {channel: "instagram", code: q.get("ref")};
  }
  return null;
}

// What the platform does when a deep link is opened: Telegram sends `/start CODE`, Viber
// `conversation_started` with the `context`, Instagram a `referral` with the `ref`.
function openDeepLink(channel, code) {
  showTab(channel, true);
  send(channel, {action: "open", context: code}, channel === "telegram" ? "/start " + code : null);
}

// A platform's link button: a deep link to a simulated messenger opens its tab with the code;
// any other address opens in a new browser tab.
function linkButton(label, url) {
  const target = deepLinkTarget(url);
  const el = button(label, () => {
    if (target) openDeepLink(target.channel, target.code);
    else window.open(url, "_blank", "noopener");
  });
  el.classList.add("link");
  el.dataset.url = url;
  if (target) el.dataset.channel = target.channel;
  return el;
}

for (const channel of CHANNELS) {
  const render = RENDER[channel];
  RENDER[channel] = (d) => { render(d); deepLinks(channel, d.text); };
}

async function poll(channel, generation) {
  let first = true; // the replay of what was said so far: at once, the person's side with it
  while (generation === state.generation) {
    const q = new URLSearchParams(personFields());
    q.set("after", state.after[channel]);
    q.set("wait", first ? "0" : "20");
    try {
      const res = await fetch(`/simulator/${channel}/updates?${q}`);
      if (!res.ok) throw new Error("HTTP " + res.status);
      const doc = await res.json();
      if (generation !== state.generation) return;
      for (const d of doc.replies) { replaySent(channel, d.seq); RENDER[channel](d); }
      if (first) replaySent(channel, Infinity);
      first = false;
      state.after[channel] = doc.last;
    } catch (e) {
      await new Promise((r) => setTimeout(r, 2000)); // the server restarts: try again
    }
  }
}

// ---- timeline --------------------------------------------------------------------------

async function refreshTimeline() {
  const view = document.getElementById("tab-timeline");
  const res = await fetch("/simulator/timeline?" + new URLSearchParams(personFields()));
  const doc = await res.json();
  const list = $(".timeline", view);
  list.replaceChildren();
  const n = doc.customers.length;
  $(".customers", view).textContent = n === 0 ? "No messages yet."
    : n === 1 ? `One customer profile (#${doc.customers[0].customer_id}) across `
      + doc.customers[0].channels.join(", ") + "."
    : `${n} separate customer profiles: share your phone on each tab to link them.`;
  for (const m of doc.timeline) {
    const li = document.createElement("li");
    li.dataset.channel = m.channel;
    const tag = document.createElement("span");
    tag.className = "channel " + m.channel;
    tag.textContent = m.channel;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = m.from === "customer" ? "You:" : m.from === "agent" ? "Agent:" : "Bot:";
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = (m.kind === "button" && m.text ? "▸ " : "") + (m.text || "");
    const status = document.createElement("span");
    status.className = "status";
    status.textContent = m.status;
    li.append(tag, who, text, status);
    list.appendChild(li);
  }
}

// ---- wiring ----------------------------------------------------------------------------

function showTab(name, byDeepLink = false) {
  for (const tab of document.querySelectorAll(".tab")) {
    tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
  }
  for (const other of [...CHANNELS, "timeline"]) section(other).hidden = other !== name;
  if (name === "viber" && !state.viberOpened) {
    // Opening the chat is Viber's conversation_started; the welcome comes in its answer.
    // (Opened by a deep link, that event carries the link's context: the caller sends it.)
    state.viberOpened = true;
    save();
    if (!byDeepLink) send("viber", {action: "open"});
  }
  if (name === "timeline") refreshTimeline();
}

function start() {
  const gen = ++state.generation;
  loadSent();
  for (const channel of CHANNELS) {
    state.after[channel] = 0;
    $(".log", section(channel)).replaceChildren();
    poll(channel, gen);
  }
}

for (const channel of CHANNELS) {
  const sec = section(channel);
  $(".composer", sec).addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = $(".text", sec);
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(channel, {action: "text", text}, text);
  });
  $(".share-phone", sec).addEventListener("click", () => sharePhone(channel));
}
for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => showTab(tab.dataset.tab));
}
document.getElementById("refresh-timeline").addEventListener("click", refreshTimeline);

const fields = {name: "person-name", phone: "person-phone", language: "person-language"};
for (const [key, id] of Object.entries(fields)) {
  const el = document.getElementById(id);
  el.value = state[key];
  el.addEventListener("change", () => { state[key] = el.value.trim(); save(); });
}
document.getElementById("new-person").addEventListener("click", () => {
  state.person = newKey();
  state.name = newName(state.name);
  state.phone = newPhone();
  document.getElementById(fields.name).value = state.name;
  document.getElementById(fields.phone).value = state.phone;
  state.viberOpened = false;
  save();
  start();
  for (const panel of document.querySelectorAll(".panel")) panel.hidden = true;  // their keyboards
  showTab("telegram");
});

save();
start();
