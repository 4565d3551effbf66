// omnirelay console pages (agent console, dashboard, audit log): the interface language, shared.
// The language: ?lang= in the address, else the last choice (localStorage), else the browser's
// languages, else the business default (the page's data-language, OMNIRELAY_DEFAULT_LANGUAGE).
// Each page loads this file first, then its own table `const TEXTS = { key: [English, Ukrainian] }`
// (console.i18n.js, dashboard.i18n.js, audit.i18n.js); `t()` reads that table, then the shared
// texts below. Elements with `data-i18n` (text), `data-i18n-label` (aria-label), `data-i18n-title`
// (title) and `data-i18n-placeholder` are translated by `setLanguage()`.
"use strict";

// key: [English, Ukrainian]; the texts every page uses
const SHARED_TEXTS = {
  language_ui: ["Interface language", "Мова інтерфейсу"],
  sec: ["{n} s", "{n} с"],
  min: ["{n} min", "{n} хв"],
  min_sec: ["{m} min {s} s", "{m} хв {s} с"],
  hr: ["{h} h", "{h} год"],
  hr_min: ["{h} h {m} min", "{h} год {m} хв"],
  days_only: ["{d} d", "{d} д"],
  day_hr: ["{d} d {h} h", "{d} д {h} год"],
};
const LANGUAGES = ["en", "uk"];
const LOCALES = { en: "en-GB", uk: "uk-UA" };
const I18N = { lang: "en" };
const LANGUAGE_KEY = "omnirelay.lang";

function pickLanguage() {
  const asked = new URLSearchParams(location.search).get("lang");
  let saved = null;
  try { saved = localStorage.getItem(LANGUAGE_KEY); } catch (_) { saved = null; }
  const browser = (navigator.languages || [navigator.language || ""]).map((l) => String(l).slice(0, 2));
  const candidates = [asked, saved, ...browser, document.body.dataset.language, "en"];
  return candidates.find((l) => LANGUAGES.includes(l)) || "en";
}

const I18N_ATTRIBUTES = [["data-i18n-label", "aria-label"], ["data-i18n-title", "title"],
  ["data-i18n-placeholder", "placeholder"]];

function setLanguage(lang, remember) {
  I18N.lang = LANGUAGES.includes(lang) ? lang : "en";
  if (remember) { try { localStorage.setItem(LANGUAGE_KEY, I18N.lang); } catch (_) { /* private mode */ } }
  document.documentElement.lang = I18N.lang;
  translate(document);
  document.title = "omnirelay — " + t("title");
}

// Say again every text of `root` named by a data-i18n* attribute in the current language.
function translate(root) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const [data, attribute] of I18N_ATTRIBUTES) {
    for (const node of root.querySelectorAll("[" + data + "]")) node.setAttribute(attribute, t(node.getAttribute(data)));
  }
}

// t("s_frt", {n: 3, p90: "5 min"}): the text in the current language with {names} filled in.
// A text with forms "one|other" (English) or "one|few|many" (Ukrainian) takes the form of
// values.count by the language's plural rules.
function t(key, values) {
  const texts = TEXTS[key] || SHARED_TEXTS[key];
  let text = texts ? texts[LANGUAGES.indexOf(I18N.lang)] ?? texts[0] : key;
  if (text.includes("|")) text = pluralForm(text.split("|"), values && values.count);
  return text.replace(/\{(\w+)\}/g, (_, name) => (values && name in values ? String(values[name]) : ""));
}

// One of a table's [English, Ukrainian] pairs in the current language, or null.
function pick(table, key) {
  const texts = table[key];
  return texts ? texts[LANGUAGES.indexOf(I18N.lang)] ?? texts[0] : null;
}

const PLURAL_FORMS = { en: ["one", "other"], uk: ["one", "few", "many"] };

function pluralForm(forms, count) {
  const category = new Intl.PluralRules(locale()).select(Number(count) || 0);
  const index = PLURAL_FORMS[I18N.lang].indexOf(category);
  return forms[index >= 0 ? index : forms.length - 1];
}

function locale() { return LOCALES[I18N.lang] || "en-GB"; }

// Every language select of the page (`select.ui-lang`) shows the language and switches it live;
// `changed()` says again what the page's scripts wrote.
function wireLanguageSelects(changed) {
  const selects = document.querySelectorAll("select.ui-lang");
  for (const select of selects) {
    select.value = I18N.lang;
    select.addEventListener("change", () => {
      setLanguage(select.value, true);
      for (const other of selects) other.value = I18N.lang;
      if (changed) changed();
    });
  }
}

// A link to another console page keeps the language chosen here.
function withLanguage(href) {
  const url = new URL(href, location.href);
  url.searchParams.set("lang", I18N.lang);
  return url.pathname + url.search;
}

// Seconds, the way a person reads a waiting time: "45 s", "4 min 30 s", "2 h 5 min", "1 d 3 h".
function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  const s = Math.round(seconds);
  if (s < 60) return t("sec", { n: s });
  if (s < 600) return s % 60 ? t("min_sec", { m: Math.floor(s / 60), s: s % 60 }) : t("min", { n: s / 60 });
  const minutes = Math.round(s / 60);
  if (minutes < 60) return t("min", { n: minutes });
  if (minutes < 48 * 60) {
    return t(minutes % 60 ? "hr_min" : "hr", { h: Math.floor(minutes / 60), m: minutes % 60 });
  }
  const hours = Math.floor((minutes % 1440) / 60);
  return t(hours ? "day_hr" : "days_only", { d: Math.floor(minutes / 1440), h: hours });
}

// The intents customers come with, in words a supervisor or an agent knows (key: [English,
// Ukrainian]); a business's own intent without a label is shown by its name in words.
const INTENT_LABELS = {
  book_appointment: ["Book a visit", "Запис на прийом"],
  reschedule_appointment: ["Reschedule a visit", "Перенесення запису"],
  cancel_appointment: ["Cancel a visit", "Скасування запису"],
  check_order_status: ["Order status", "Статус замовлення"],
  ask_prices: ["Prices", "Ціни"],
  ask_opening_hours: ["Opening hours", "Години роботи"],
  ask_address: ["Address", "Адреса"],
  request_human: ["Asked for a person", "Попросили людину"],
  complaint: ["Complaint", "Скарга"],
  link_account: ["Link messenger accounts", "Прив’язка месенджерів"],
  data_request: ["Copy of their data", "Копія своїх даних"],
  forget_me: ["Delete their data", "Видалення своїх даних"],
  stop: ["Stop messages", "Відписка від повідомлень"],
  resume: ["Resume messages", "Поновлення повідомлень"],
  out_of_scope: ["Off-topic questions", "Питання не за темою"],
  check_bookings: ["Their booked visits", "Свої записи"],
  ask_if_bot: ["Bot or person?", "Бот чи людина?"],
};

function intentLabel(name) { return pick(INTENT_LABELS, name) || String(name).replaceAll("_", " "); }
