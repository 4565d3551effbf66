// omnirelay dashboard: the supervisors' numbers over GET /api/metrics/summary, live over the
// console's GET /api/events. Loaded after dashboard.i18n.js (t, fmt*) and dashboard.charts.js.
// Nothing from the server goes through innerHTML: nodes are built and text is set.
"use strict";

const $ = (id) => document.getElementById(id);
const FILTERS = [["channel", "f-channel"], ["language", "f-language"], ["team", "f-team"], ["agent", "f-agent"]];
const KNOWN_CHANNELS = ["telegram", "viber", "instagram", "webchat", "rest"];
// Events after which today's numbers may have moved: refetch (throttled), never recount here.
const LIVE_KINDS = ["ticket.created", "ticket.assigned", "ticket.transferred", "ticket.closed", "ticket.csat",
  "message.agent", "message.customer", "metrics.changed"];
const LIVE_DELAY_MS = 400; // coalesce a burst of events into one fetch
const THROTTLE_MS = 3000; // at most one live refetch per this
const POLL_MS = 60000; // conversations the bot finishes alone send no event: poll today as well
const D = {
  tz: "", today: "", seq: 0, todaySeq: 0, data: null, previous: null, todayData: null, events: null,
  timer: 0, lastLive: 0, seen: new Set(), channels: new Set(KNOWN_CHANNELS), languages: new Set(["uk", "en"]),
};

// ---- dates (ISO days in the business timezone) ---------------------------------------------

function todayIn(tz) {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone: tz || undefined, year: "numeric", month: "2-digit", day: "2-digit" })
    .formatToParts(new Date());
  const part = (type) => parts.find((p) => p.type === type).value;
  return `${part("year")}-${part("month")}-${part("day")}`;
}
function addDays(iso, n) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}
function spanDays(from, to) { return Math.round((Date.parse(to + "T00:00:00Z") - Date.parse(from + "T00:00:00Z")) / 86400000) + 1; }
function validDay(iso) { return /^\d{4}-\d\d-\d\d$/.test(iso || "") && !Number.isNaN(Date.parse(iso + "T00:00:00Z")); }

// ---- the API -------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function getJson(path) {
  const res = await fetch(path, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  let doc = null;
  try { doc = await res.json(); } catch (_) { doc = null; }
  if (res.status === 401) { location.assign("/console"); throw new ApiError(401, "log in"); }
  if (!res.ok) throw new ApiError(res.status, (doc && doc.error) || "HTTP " + res.status);
  return doc;
}

function filterQuery(from, to) {
  const q = new URLSearchParams({ from, to });
  for (const [name, id] of FILTERS) if ($(id).value) q.set(name, $(id).value);
  return q;
}

function summary(from, to) { return getJson("/api/metrics/summary?" + filterQuery(from, to)); }

// ---- headline numbers ----------------------------------------------------------------------

const n0 = (x) => x ?? 0;
// A rate from its counts: the API's `rate` is rounded to 4 digits, and shown to one decimal it
// would be rounded twice (6 of 11 = 54.545…% read 54.6%). The API's rate when a count is missing.
function ratio(part, whole, given) {
  return Number.isFinite(part) && Number.isFinite(whole) && whole > 0 ? part / whole : given;
}
// better: 1 when up is good, -1 when down is good, 0 when neither; kind decides how a change reads.
const METRICS = [
  { key: "conversations", kind: "count", better: 0, get: (s) => s.conversations?.started },
  { key: "containment", kind: "rate", better: 1, get: (s) => ratio(s.containment?.contained, s.containment?.tasks_started, s.containment?.rate),
    sub: (s) => t("s_contained", { n: fmtCount(n0(s.containment?.contained)), total: fmtCount(n0(s.containment?.tasks_started)), count: n0(s.containment?.tasks_started) }) },
  { key: "handoff", kind: "rate", better: -1, get: (s) => ratio(s.handoff?.count, s.containment?.tasks_started, s.handoff?.rate),
    sub: (s) => t("s_handoffs", { n: fmtCount(n0(s.handoff?.count)) }) },
  { key: "frt_wall", kind: "duration", better: -1, get: (s) => s.first_response?.wall?.p50,
    sub: (s) => t("s_frt", { n: fmtCount(n0(s.first_response?.count)), p90: fmtDuration(s.first_response?.wall?.p90) }) },
  { key: "frt_business", kind: "duration", better: -1, get: (s) => s.first_response?.business?.p50,
    sub: (s) => t("s_frt", { n: fmtCount(n0(s.first_response?.count)), p90: fmtDuration(s.first_response?.business?.p90) }) },
  { key: "resolution", kind: "duration", better: -1, get: (s) => s.resolution?.wall?.p50,
    sub: (s) => t("s_resolution", { n: fmtCount(n0(s.resolution?.count)), bh: fmtDuration(s.resolution?.business?.p50) }) },
  { key: "csat", kind: "score", better: 1, get: (s) => s.csat?.average,
    sub: (s) => t("s_csat", { n: fmtCount(n0(s.csat?.answered)), count: n0(s.csat?.answered) }) },
  { key: "csat_rate", kind: "rate", better: 1, get: (s) => ratio(s.csat?.answered, s.csat?.asked, s.csat?.response_rate),
    sub: (s) => t("s_csat_rate", { n: fmtCount(n0(s.csat?.answered)), total: fmtCount(n0(s.csat?.asked)) }) },
  { key: "fcr", kind: "rate", better: 1, get: (s) => ratio(n0(s.fcr?.resolved) - n0(s.fcr?.came_back), s.fcr?.resolved, s.fcr?.rate),
    sub: (s) => t("s_fcr", { n: fmtCount(n0(s.fcr?.resolved)), back: fmtCount(n0(s.fcr?.came_back)), days: n0(s.fcr?.days) }) },
  { key: "fallback", kind: "rate", better: -1, get: (s) => ratio(s.fallback?.count, s.fallback?.messages, s.fallback?.rate),
    sub: (s) => t("s_fallback", { n: fmtCount(n0(s.fallback?.count)), total: fmtCount(n0(s.fallback?.messages)), count: n0(s.fallback?.messages) }) },
];
const TODAY_METRICS = ["conversations", "containment", "handoff", "frt_wall", "csat"];
const FORMAT = { count: fmtCount, rate: (r) => fmtRate(r), duration: fmtDuration, score: fmtScore };

// How the value moved against the previous period: rates in percentage points, times as a
// duration, scores as a difference, counts in per cent (or the difference after a zero).
function change(metric, now, before) {
  if (now === null || now === undefined || before === null || before === undefined) return null;
  const diff = now - before;
  if (Math.abs(diff) < 1e-9) return { dir: 0, text: "" };
  const size = Math.abs(diff);
  let text;
  if (metric.kind === "rate") text = new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 }).format(size * 100) + " " + (I18N.lang === "uk" ? "в. п." : "pp");
  else if (metric.kind === "duration") text = fmtDuration(size);
  else if (metric.kind === "score") text = fmtScore(size);
  else text = before > 0 ? fmtRate(size / before, 0) : fmtCount(size);
  return { dir: Math.sign(diff), text };
}

function card(metric, doc, previous) {
  const value = doc ? metric.get(doc) : null;
  const node = htmlEl("article", { class: "card", "data-metric": metric.key, "aria-labelledby": `${metric.key}-${previous === undefined ? "t" : "p"}` },
    htmlEl("h3", { id: `${metric.key}-${previous === undefined ? "t" : "p"}` }, t("m_" + metric.key)),
    htmlEl("p", { class: "value", "data-value": value ?? "" }, FORMAT[metric.kind](value)));
  if (previous !== undefined) {
    const moved = change(metric, value, previous ? metric.get(previous) : null);
    const tone = !moved || moved.dir === 0 || metric.better === 0 ? "flat" : moved.dir === metric.better ? "good" : "bad";
    const said = !moved ? t("no_previous") : moved.dir === 0 ? t("trend_same") : t(moved.dir > 0 ? "trend_up" : "trend_down", { delta: moved.text });
    const shown = !moved ? "—" : moved.dir === 0 ? "±0" : (moved.dir > 0 ? "▲ +" : "▼ −") + moved.text;
    node.append(htmlEl("p", { class: "trend " + tone, "data-direction": moved ? moved.dir : "" },
      htmlEl("span", { "aria-hidden": "true" }, shown), htmlEl("span", { class: "sr" }, said)));
  }
  if (metric.sub && doc) node.append(htmlEl("p", { class: "sub muted" }, metric.sub(doc)));
  return node;
}

function renderHeadline() {
  if (!D.data) return;
  $("headline-cards").replaceChildren(...METRICS.map((m) => card(m, D.data, D.previous)));
  const from = $("f-from").value;
  const days = spanDays(from, $("f-to").value);
  $("period-note").textContent = t("vs_previous", { days, from: fmtDate(addDays(from, -days)), to: fmtDate(addDays(from, -1)) });
}

function renderToday() {
  $("today-date").textContent = D.today ? fmtDate(D.today) : "";
  const cards = METRICS.filter((m) => TODAY_METRICS.includes(m.key)).map((m) => card(m, D.todayData, undefined));
  $("today-cards").replaceChildren(...cards);
}

// ---- charts --------------------------------------------------------------------------------

const pct0 = (v) => fmtRate(v, 0);

function histogramRows(hist) {
  return hist.map(([bound, n], i) => {
    const lower = i ? hist[i - 1][0] : null;
    return [bound === null ? "> " + fmtDuration(lower) : "≤ " + fmtDuration(bound), n];
  });
}

function responseSpec(s) {
  const fr = s.first_response || {};
  if (Array.isArray(fr.histogram) && fr.histogram.length) {
    const rows = histogramRows(fr.histogram);
    return { empty: !rows.some(([, n]) => n), headers: [t("wall"), t("count")], rows: rows.map(([l, n]) => [l, fmtCount(n)]),
      draw: (w, label) => barChart(w, rows.map(([l]) => l), [{ name: "count", values: rows.map(([, n]) => n) }], { label, format: fmtCount }) };
  }
  // Without buckets from the API: the percentiles it does give, wall clock and business hours.
  const items = [];
  for (const [part, name] of [["wall", t("wall")], ["business", t("business")]]) {
    for (const stat of ["p50", "p90", "avg"]) {
      const v = fr[part]?.[stat];
      if (v !== null && v !== undefined) items.push([`${stat === "avg" ? t("average") : stat} · ${name}`, v]);
    }
  }
  return { empty: !n0(fr.count), headers: [t("percentile"), t("count")], rows: items.map(([l, v]) => [l, fmtDuration(v)]),
    draw: (w, label) => hbarChart(w, items, { label, format: fmtDuration }) };
}

function topSpec(items, header) {
  const list = (items || []).slice(0, 10);
  return { empty: !list.length, headers: [header, t("count")], rows: list.map(([l, n]) => [l, fmtCount(n)]),
    draw: (w, label) => hbarChart(w, list, { label, format: fmtCount }) };
}

function chartSpecs(s) {
  const series = s.series || {};
  const days = (series.days || []).map(fmtDate);
  const rates = [{ name: "containment", label: t("containment"), values: series.containment_rate || [], color: "#1a7f37" },
    { name: "handoff", label: t("handoff"), values: series.handoff_rate || [], color: "#d1242f" }];
  const volume = series.volume || [];
  const csat = ["1", "2", "3", "4", "5"].map((k) => n0(s.csat?.distribution?.[k]));
  const byChannel = Object.entries(s.conversations?.by_channel || {}).sort((a, b) => b[1] - a[1]);
  const hours = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, "0"));
  const perHour = Object.entries(s.by_hour || {}).map(([name, values]) => ({ name, values }));
  return {
    "c-rates": { title: t("c_rates"), empty: !days.length, legend: rates, headers: [t("day"), t("containment"), t("handoff")],
      rows: days.map((d, i) => [d, pct0(rates[0].values[i]), pct0(rates[1].values[i])]),
      draw: (w, label) => lineChart(w, days, rates, { label, max: 1, format: pct0 }) },
    "c-volume": { title: t("c_volume"), empty: !volume.some(Boolean), headers: [t("day"), t("conversations")],
      rows: days.map((d, i) => [d, fmtCount(n0(volume[i]))]),
      draw: (w, label) => barChart(w, days, [{ name: "volume", values: volume }], { label, format: fmtCount }) },
    "c-response": { title: t("c_response"), ...responseSpec(s) },
    "c-csat": { title: t("c_csat"), empty: !csat.some(Boolean), headers: [t("score"), t("count")],
      rows: csat.map((n, i) => [String(i + 1), fmtCount(n)]),
      draw: (w, label) => barChart(w, ["1", "2", "3", "4", "5"], [{ name: "csat", values: csat, color: "#9a6700" }], { label, format: fmtCount }) },
    "c-channels": { title: t("c_channels"), empty: !byChannel.length, headers: [t("channel"), t("conversations")],
      rows: byChannel.map(([c, n]) => [c, fmtCount(n)]), draw: (w, label) => hbarChart(w, byChannel, { label, format: fmtCount, colors: true }) },
    "c-hours": { title: t("c_hours"), empty: !perHour.some((p) => p.values.some(Boolean)), legend: perHour,
      headers: [t("hour"), ...perHour.map((p) => p.name)], rows: hours.map((h, i) => [h, ...perHour.map((p) => fmtCount(n0(p.values[i])))]),
      draw: (w, label) => barChart(w, hours, perHour, { label, format: fmtCount }) },
    "c-intents": { title: t("c_intents"), note: t("intents_note"), ...topSpec(requestIntents(s.top_intents), t("intent")) },
    "c-fallbacks": { title: t("c_fallbacks"), ...topSpec(s.top_fallbacks, t("phrase")) },
  };
}

function renderCharts() {
  if (!D.data) return;
  for (const [id, spec] of Object.entries(chartSpecs(D.data))) renderFigure($(id), spec);
}

// ---- filters, loading, live ----------------------------------------------------------------

function fillSelect(id, values, allKey) {
  const select = $(id);
  const chosen = select.value || new URLSearchParams(location.search).get(select.id.slice(2)) || "";
  const options = [htmlEl("option", { value: "", "data-i18n": allKey }, t(allKey)),
    ...values.map(([value, label]) => htmlEl("option", { value }, label))];
  if (chosen && !values.some(([v]) => String(v) === chosen)) options.push(htmlEl("option", { value: chosen }, chosen));
  select.replaceChildren(...options);
  select.value = chosen;
}

async function loadFilterOptions() {
  const [agents, queues] = await Promise.all([getJson("/api/agents/names").catch(() => ({})), getJson("/api/queues?all=1").catch(() => ({}))]);
  fillSelect("f-agent", (agents.agents || []).map((a) => [String(a.id), a.name]), "all_agents");
  const teams = [...new Set((queues.queues || []).map((q) => q.topic))].sort();
  fillSelect("f-team", teams.map((x) => [x, x]), "all_teams");
  fillChannelsAndLanguages();
}

function fillChannelsAndLanguages() {
  for (const doc of [D.data, D.previous]) {
    Object.keys(doc?.conversations?.by_channel || {}).forEach((c) => D.channels.add(c));
    Object.keys(doc?.conversations?.by_language || {}).forEach((l) => D.languages.add(l));
  }
  fillSelect("f-channel", [...D.channels].sort().map((c) => [c, c]), "all_channels");
  fillSelect("f-language", [...D.languages].sort().map((l) => [l, l]), "all_languages");
}

function syncLinks(from, to) {
  const q = filterQuery(from, to);
  for (const kind of ["conversations", "tickets"]) {
    $("csv-" + kind).href = "/api/metrics/export.csv?" + new URLSearchParams({ kind, ...Object.fromEntries(q) });
  }
  const address = new URLSearchParams(q);
  if (I18N.lang) address.set("lang", I18N.lang);
  history.replaceState(null, "", location.pathname + "?" + address);
  for (const button of document.querySelectorAll(".presets button")) {
    button.setAttribute("aria-pressed", String(to === D.today && spanDays(from, to) === Number(button.dataset.days)));
  }
}

// The status line, kept as a text key so a change of language says it again.
function say(key, values, bad) {
  D.said = [key, values, bad];
  $("status").textContent = t(key, values);
  $("status").className = bad ? "error" : "muted";
}
function sayUpdated() { say("updated", { time: new Date().toLocaleTimeString(locale()) }); }

function explain(e) {
  if (e.status === 403) say("forbidden", {}, true);
  else if (e.status === 404) say("unavailable", {}, true);
  else say("failed", { error: e.message }, true);
}


// Everything for the chosen period, its previous period of the same length (the trends) and
// today; a slower answer to an older request is dropped.
async function refresh() {
  const from = $("f-from").value;
  const to = $("f-to").value;
  const bad = !validDay(from) || !validDay(to) || from > to;
  $("f-error").hidden = !bad;
  $("f-error").textContent = bad ? t("bad_range") : "";
  if (bad) return;
  syncLinks(from, to);
  const seq = ++D.seq;
  const todaySeq = ++D.todaySeq;
  const days = spanDays(from, to);
  say("loading");
  try {
    const [current, previous, today] = await Promise.all([summary(from, to),
      summary(addDays(from, -days), addDays(from, -1)).catch(() => null),
      from === D.today && to === D.today ? null : summary(D.today, D.today)]);
    if (seq !== D.seq) return;
    Object.assign(D, { data: current, previous });
    // today's numbers only if no later fetch of them (a live one) started meanwhile: an older
    // answer arriving last must not put back what a live update replaced
    if (todaySeq === D.todaySeq || !D.todayData) D.todayData = today || current;
    render();
    sayUpdated();
  } catch (e) {
    if (seq === D.seq) explain(e);
  }
}

// Live: today's numbers again (and the period's, when it reaches today).
async function refreshToday() {
  if ($("f-to").value >= D.today && $("f-from").value <= D.today) { await refresh(); return; }
  const todaySeq = ++D.todaySeq;
  try {
    const today = await summary(D.today, D.today);
    if (todaySeq !== D.todaySeq) return;
    D.todayData = today;
    renderToday();
    sayUpdated();
  } catch (e) { explain(e); }
}

function render() { fillChannelsAndLanguages(); renderHeadline(); renderToday(); renderCharts(); }

function scheduleLive() {
  if (D.timer) return;
  const wait = Math.max(LIVE_DELAY_MS, D.lastLive + THROTTLE_MS - Date.now());
  D.timer = setTimeout(() => { D.timer = 0; D.lastLive = Date.now(); refreshToday(); }, wait);
}

function listen() {
  const source = new EventSource("/api/events");
  D.events = source;
  const live = $("live");
  source.onopen = () => { live.dataset.i18n = "live"; live.textContent = t("live"); live.className = "live on"; };
  source.onerror = () => { live.dataset.i18n = "reconnecting"; live.textContent = t("reconnecting"); live.className = "live"; };
  const onEvent = (ev) => {
    if (ev.lastEventId && D.seen.has(ev.lastEventId)) return; // delivery is at least once
    if (ev.lastEventId) D.seen.add(ev.lastEventId);
    if (D.seen.size > 2000) D.seen.clear();
    scheduleLive();
  };
  for (const kind of LIVE_KINDS) source.addEventListener(kind, onEvent);
  setInterval(() => { if (!document.hidden) scheduleLive(); }, POLL_MS);
}

// "Today" is the bot clock's day (it may be pinned, in a demo or a test), not the browser's:
// the summary's default period ends on it.
async function serverToday() {
  const doc = await getJson("/api/metrics/summary");
  const today = doc && doc.range && doc.range.to;
  if (!validDay(today) || today === D.today) return;
  const asked = new URLSearchParams(location.search);
  if (!validDay(asked.get("to"))) $("f-to").value = today;
  if (!validDay(asked.get("from"))) $("f-from").value = addDays($("f-to").value, -6);
  D.today = today;
}

function preset(days) {
  $("f-to").value = D.today;
  $("f-from").value = addDays(D.today, 1 - days);
  refresh();
}

async function start() {
  D.tz = document.body.dataset.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone;
  D.today = todayIn(D.tz);
  setLanguage(pickLanguage(), false);
  $("ui-lang").value = I18N.lang;
  const asked = new URLSearchParams(location.search);
  $("f-to").value = validDay(asked.get("to")) ? asked.get("to") : D.today;
  $("f-from").value = validDay(asked.get("from")) ? asked.get("from") : addDays($("f-to").value, -6);
  try {
    const me = await getJson("/api/me");
    $("me-name").textContent = me.name || "";
    await serverToday();
  } catch (e) { explain(e); return; }
  await loadFilterOptions();
  await refresh();
  listen();
}

document.addEventListener("DOMContentLoaded", () => {
  $("filters").addEventListener("submit", (ev) => { ev.preventDefault(); refresh(); });
  for (const id of ["f-from", "f-to", ...FILTERS.map(([, x]) => x)]) $(id).addEventListener("change", refresh);
  for (const button of document.querySelectorAll(".presets button")) {
    button.addEventListener("click", () => preset(Number(button.dataset.days)));
  }
  $("ui-lang").addEventListener("change", () => {
    setLanguage($("ui-lang").value, true);
    syncLinks($("f-from").value, $("f-to").value);
    render();
    if (D.said) say(...D.said);
  });
  let resizing = 0;
  new ResizeObserver(() => { clearTimeout(resizing); resizing = setTimeout(renderCharts, 150); }).observe($("charts"));
  start();
});
