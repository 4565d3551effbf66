// omnirelay dashboard: the interface texts in English and Ukrainian, and the number formats.
// The language and `t()` are shared with the console (i18n.js, loaded first).
"use strict";

// key: [English, Ukrainian]
const TEXTS = {
  skip: ["Skip to the numbers", "До показників"],
  title: ["Dashboard", "Панель показників"],
  offline: ["offline", "офлайн"],
  live: ["live", "наживо"],
  reconnecting: ["reconnecting…", "перепід’єднання…"],
  to_console: ["Console", "Консоль"],
  filters: ["Filters", "Фільтри"],
  period: ["Period", "Період"],
  from: ["From", "З"],
  to: ["To", "По"],
  presets: ["Quick periods", "Швидкий вибір періоду"],
  today: ["Today", "Сьогодні"],
  days7: ["7 days", "7 днів"],
  days30: ["30 days", "30 днів"],
  days90: ["90 days", "90 днів"],
  filter_by: ["Only", "Лише"],
  channel: ["Channel", "Канал"],
  language: ["Language", "Мова"],
  team: ["Team", "Команда"],
  agent: ["Agent", "Оператор"],
  all_channels: ["All channels", "Усі канали"],
  all_languages: ["All languages", "Усі мови"],
  all_teams: ["All teams", "Усі команди"],
  all_agents: ["All agents", "Усі оператори"],
  today_live: ["Today, live", "Сьогодні, наживо"],
  period_numbers: ["The period", "За період"],
  charts: ["Charts", "Графіки"],
  export: ["Export (CSV)", "Експорт (CSV)"],
  export_note: ["The chosen period and filters, one row per conversation or per ticket.", "Вибраний період і фільтри, рядок на кожну розмову або на кожне звернення."],
  csv_conversations: ["Conversations", "Розмови"],
  csv_tickets: ["Tickets", "Звернення"],
  bad_range: ["The start of the period is after its end.", "Початок періоду пізніший за його кінець."],
  loading: ["Loading…", "Завантаження…"],
  updated: ["Updated at {time}", "Оновлено о {time}"],
  failed: ["Could not load the numbers: {error}", "Не вдалося завантажити показники: {error}"],
  forbidden: ["The dashboard is for supervisors.", "Панель показників — лише для керівників."],
  unavailable: ["The metrics API does not answer yet.", "API показників ще не відповідає."],
  vs_previous: ["vs the previous {days} d ({from} – {to})", "порівняно з попередніми {days} дн. ({from} – {to})"],
  no_previous: ["no data before", "раніше даних немає"],
  trend_up: ["up {delta} on the previous period", "на {delta} більше, ніж за попередній період"],
  trend_down: ["down {delta} on the previous period", "на {delta} менше, ніж за попередній період"],
  trend_same: ["the same as the previous period", "так само, як за попередній період"],
  m_conversations: ["Conversations", "Розмови"],
  m_containment: ["Containment", "Бот упорався сам"],
  m_handoff: ["Handoff rate", "Передано людині"],
  m_frt_wall: ["First response, median", "Перша відповідь, медіана"],
  m_frt_business: ["First response, business hours", "Перша відповідь, робочий час"],
  m_resolution: ["Resolution time, median", "Час розв’язання, медіана"],
  m_csat: ["CSAT average", "Середня оцінка CSAT"],
  m_csat_rate: ["CSAT response rate", "Частка відповідей CSAT"],
  m_fcr: ["First-contact resolution", "Розв’язано з першого звернення"],
  m_fallback: ["Bot fallback rate", "Бот не зрозумів"],
  s_contained: ["{n} of {total} task|{n} of {total} tasks", "{n} з {total} завдання|{n} з {total} завдань|{n} з {total} завдань"],
  s_handoffs: ["{n} handed to a person", "{n} передано людині"],
  s_frt: ["{n} answered, p90 {p90}", "{n} з відповіддю, p90 {p90}"],
  s_resolution: ["{n} resolved, business hours {bh}", "{n} розв’язано, робочий час {bh}"],
  s_csat: ["{n} score|{n} scores", "{n} оцінка|{n} оцінки|{n} оцінок"],
  s_csat_rate: ["{n} of {total} asked", "відповіли {n} із {total}"],
  s_fcr: ["{n} resolved, {back} came back within {days} d", "{n} розв’язано, повернень за {days} дн.: {back}"],
  s_fallback: ["{n} of {total} message|{n} of {total} messages", "{n} з {total} повідомлення|{n} з {total} повідомлень|{n} з {total} повідомлень"],
  c_rates: ["Containment and handoff rate per day", "Частка «бот упорався сам» і передач людині по днях"],
  c_volume: ["Conversations per day", "Розмови по днях"],
  c_response: ["First response time (after handoff, bot time excluded)", "Час першої відповіді (після передачі, без часу бота)"],
  c_csat: ["CSAT scores", "Оцінки CSAT"],
  c_channels: ["Conversations by channel", "Розмови за каналами"],
  c_hours: ["Incoming messages by channel and hour of day", "Вхідні повідомлення за каналами й годинами доби"],
  c_intents: ["What customers asked for", "З чим зверталися клієнти"],
  intents_note: ["Answers to the bot’s questions, yes/no, ratings and greetings are left out.", "Відповіді на запитання бота, так/ні, оцінки й привітання сюди не входять."],
  c_fallbacks: ["Top phrases the bot did not understand", "Фрази, яких бот найчастіше не зрозумів"],
  containment: ["containment", "бот упорався сам"],
  handoff: ["handoff", "передано людині"],
  conversations: ["conversations", "розмови"],
  percentile: ["percentile", "процентиль"],
  wall: ["wall clock", "календарний час"],
  business: ["business hours", "робочий час"],
  average: ["average", "середнє"],
  score: ["score", "оцінка"],
  count: ["count", "кількість"],
  day: ["day", "день"],
  hour: ["hour", "година"],
  share: ["share", "частка"],
  phrase: ["phrase", "фраза"],
  intent: ["intent", "намір"],
  table: ["Data table", "Таблиця даних"],
  no_data: ["No data for this period.", "Даних за цей період немає."],
  chart_summary: ["{title}: {n} values; the data table below has them all.", "{title}: значень — {n}; усі вони в таблиці нижче."],
};
function fmtCount(n) {
  return n === null || n === undefined || Number.isNaN(n) ? "—" : new Intl.NumberFormat(locale()).format(n);
}

// Replies inside a conversation (a slot answer, yes/no, a CSAT score, the choice after a handoff,
// small talk) say nothing about why customers came: the top-intents chart leaves them out.
const REPLY_INTENTS = new Set(["inform", "affirm", "deny", "csat_score", "handoff_message",
  "handoff_callback", "link_result", "greet", "goodbye", "thank", "nlu_fallback", "menu", "help", "start"]);

// [[intent, n], …] from the API -> [[label, n], …] of the intents that are a customer's request;
// a business's own intent without a label is shown by its name in words.
function requestIntents(items) {
  return (items || []).filter(([name]) => !REPLY_INTENTS.has(name)).map(([name, n]) => [intentLabel(name), n]);
}

function fmtRate(r, digits) {
  if (r === null || r === undefined || Number.isNaN(r)) return "—";
  return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: digits ?? 1 }).format(r);
}

function fmtScore(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return "—";
  return new Intl.NumberFormat(locale(), { minimumFractionDigits: 1, maximumFractionDigits: 2 }).format(x);
}

function fmtDate(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Intl.DateTimeFormat(locale(), { day: "numeric", month: "short", timeZone: "UTC" })
    .format(new Date(Date.UTC(y, m - 1, d)));
}
