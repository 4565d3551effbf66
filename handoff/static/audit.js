/* omnirelay audit log page: reads GET /api/audit with the console session's cookie and shows
   the entries newest first. Every value goes in with textContent, never as HTML. The interface
   texts are in audit.i18n.js, the language choice in i18n.js (shared with the console). */
"use strict";

(function () {
  const body = document.querySelector("#entries tbody");
  const status = document.getElementById("status");
  const more = document.getElementById("more");
  const form = document.getElementById("filters");
  let cursor = null;
  let said = null;  // the status line's [key, values], said again after a change of language

  function say(key, values, bad) {
    said = [key, values, bad];
    status.className = bad ? "error" : "";
    status.textContent = t(key, values);
  }

  function instant(id) {
    const value = document.getElementById(id).value;
    return value ? new Date(value).toISOString() : "";
  }

  function query() {
    const params = new URLSearchParams();
    const fields = {
      action: document.getElementById("f-action").value,
      actor: document.getElementById("f-actor").value.trim(),
      target_type: document.getElementById("f-target-type").value.trim(),
      target_id: document.getElementById("f-target-id").value.trim(),
      since: instant("f-since"),
      until: instant("f-until"),
    };
    for (const [name, value] of Object.entries(fields)) {
      if (value) params.set(name, value);
    }
    return params;
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (className) td.className = className;
    row.appendChild(td);
  }

  function show(entry) {
    const row = document.createElement("tr");
    row.dataset.action = entry.action;
    row.dataset.at = entry.at;
    cell(row, new Date(entry.at).toLocaleString(locale()));
    cell(row, entry.actor, "actor");
    cell(row, entry.role);
    cell(row, entry.action, "action");
    cell(row, entry.target_type ? entry.target_type + " " + (entry.target_id || "") : "");
    cell(row, entry.ip);
    const detail = entry.detail && Object.keys(entry.detail).length ? JSON.stringify(entry.detail) : "";
    cell(row, detail, "detail");
    body.appendChild(row);
  }

  async function load(append) {
    const params = query();
    if (append && cursor) params.set("cursor", cursor);
    say("loading");
    let response;
    try {
      response = await fetch("/api/audit?" + params.toString(), { credentials: "same-origin" });
    } catch (e) {
      say("unreachable", {}, true);
      return;
    }
    const doc = await response.json().catch(() => ({}));
    if (!response.ok) {
      if (doc.error) {
        said = null;
        status.className = "error";
        status.textContent = doc.error;
      } else say("error_status", { status: response.status }, true);
      return;
    }
    if (!append) body.replaceChildren();
    doc.entries.forEach(show);
    cursor = doc.next_cursor;
    more.hidden = !cursor;
    const count = body.children.length;
    if (count) say("entries", { n: count, count });
    else say("no_entries");
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load(false);
  });
  more.addEventListener("click", () => load(true));
  setLanguage(pickLanguage(), false);
  wireLanguageSelects(() => {
    if (said) say(...said);
    for (const row of body.children) row.firstChild.textContent = new Date(row.dataset.at).toLocaleString(locale());
    document.getElementById("to-console").href = withLanguage("/console");
  });
  document.getElementById("to-console").href = withLanguage("/console");
  load(false);
})();
