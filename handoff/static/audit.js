/* omnirelay audit log page: reads GET /api/audit with the console session's cookie and shows
   the entries newest first. Every value goes in with textContent, never as HTML. */
"use strict";

(function () {
  const body = document.querySelector("#entries tbody");
  const status = document.getElementById("status");
  const more = document.getElementById("more");
  const form = document.getElementById("filters");
  let cursor = null;

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
    cell(row, new Date(entry.at).toLocaleString());
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
    status.className = "";
    status.textContent = "Loading…";
    let response;
    try {
      response = await fetch("/api/audit?" + params.toString(), { credentials: "same-origin" });
    } catch (e) {
      status.className = "error";
      status.textContent = "The server cannot be reached.";
      return;
    }
    const doc = await response.json().catch(() => ({}));
    if (!response.ok) {
      status.className = "error";
      status.textContent = doc.error || "Error " + response.status;
      return;
    }
    if (!append) body.replaceChildren();
    doc.entries.forEach(show);
    cursor = doc.next_cursor;
    more.hidden = !cursor;
    const count = body.children.length;
    status.textContent = count ? count + (count === 1 ? " entry" : " entries") : "No entries.";
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load(false);
  });
  more.addEventListener("click", () => load(true));
  load(false);
})();
