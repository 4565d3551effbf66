// omnirelay agent console: the Conversations tab. Customers by their latest message (also
// those who never asked for a person), searched by name, phone or id; "Take over" opens a
// ticket assigned to me (`POST /api/tickets`) and the bot stays silent until I close it.
// Loaded after console.js and ticket.js, whose helpers and state it uses.
"use strict";

state.conversations = [];
state.query = "";

async function loadConversations() {
  await act("a_conversations", async () => {
    const query = state.query;
    const path = "/api/conversations" + (query ? "?q=" + encodeURIComponent(query) : "");
    const doc = await api("GET", path);
    if (state.tab !== "conversations" || query !== state.query) return;
    state.conversations = listOf(doc, "conversations");
    renderConversations();
  });
}

function ticketNote(t) {
  if (!t) return null;
  const status = wordFor("st_", t.status);
  const who = t.agent ? " " + (t.status === "offered" ? tr("offered_to", { name: t.agent }) : "→ " + t.agent) : "";
  return el("span", { class: "tag open", title: tr("open_ticket_n", { id: t.id }) }, tr("ticket_note", { status }) + who);
}

function renderConversations() {
  for (const span of $("tabs").querySelectorAll(".count")) {
    span.textContent = span.dataset.count === "conversations" ? "(" + state.conversations.length + ")" : "";
  }
  const me = state.me || {};
  const rows = state.conversations.map((c) => {
    const last = c.last_message || {};
    const mine = c.open_ticket && c.open_ticket.status === "assigned" && c.open_ticket.agent_id === me.id;
    const take = el("button", { type: "button", class: "take-over", "data-customer": c.customer_id,
      title: t("take_over_customer") }, t(mine ? "open" : "take_over"));
    take.addEventListener("click", () => (mine ? openTicket(c.open_ticket.id) : takeOverCustomer(c.customer_id)));
    return el("li", { "data-customer": c.customer_id },
      el("div", { class: "row1" }, el("span", { class: "name" }, c.name || t("customer_n", { id: c.customer_id })),
        badge(c.last_channel || last.channel), el("span", { class: "tag", title: t("language") }, c.language || "")),
      el("div", { class: "last", title: last.shown || last.text || "" },
        fromLabel(last.from) + ": " + (last.shown || last.text || "…")),
      el("div", { class: "row3" }, ticketNote(c.open_ticket), c.phone ? el("span", {}, c.phone) : null,
        el("span", { class: "waiting" }, since(last.at)), el("span", { class: "spacer" }), take));
  });
  $("conversation-list").replaceChildren(...rows);
  $("conversations-empty").hidden = rows.length > 0;
}

async function takeOverCustomer(customerId) {
  await act("a_take_over", async () => {
    const taken = await api("POST", "/api/tickets", { customer_id: customerId });
    notice(t("yours"));
    switchTab("assigned");
    await openTicket(taken.id);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("conv-search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.query = $("conv-q").value.trim();
    loadConversations();
  });
});
