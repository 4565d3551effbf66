// omnirelay audit log: the interface texts in English and Ukrainian (key: [English, Ukrainian]).
// The language and `t()` are shared with the console and the dashboard (i18n.js, loaded first).
// The entries themselves (actions, actors, details) are shown as the server records them.
"use strict";

const TEXTS = {
  title: ["audit log", "журнал аудиту"],
  heading: ["Audit log", "Журнал аудиту"],
  to_console: ["Console", "Консоль"],
  filters: ["Filters", "Фільтри"],
  action: ["Action", "Дія"],
  any: ["any", "будь-яка"],
  actor: ["Actor", "Хто"],
  target_type: ["Target type", "Тип об’єкта"],
  target_id: ["Target id", "Id об’єкта"],
  since: ["Since", "З"],
  until: ["Until", "До"],
  show: ["Show", "Показати"],
  when: ["When", "Коли"],
  role: ["Role", "Роль"],
  target: ["Target", "Об’єкт"],
  ip: ["IP", "IP-адреса"],
  detail: ["Detail", "Подробиці"],
  older: ["Older entries", "Старіші записи"],
  loading: ["Loading…", "Завантаження…"],
  unreachable: ["The server cannot be reached.", "Сервер недоступний."],
  error_status: ["Error {status}", "Помилка {status}"],
  entries: ["{n} entry|{n} entries", "{n} запис|{n} записи|{n} записів"],
  no_entries: ["No entries.", "Записів немає."],
};
