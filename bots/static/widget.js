/* omnirelay web chat widget: one tag on the business's page, no build step.
 *   <script src="https://OMNIRELAY/webchat/widget.js" data-key="PUBLIC_KEY" async></script>
 * Optional: data-user-id + data-user-hash (HMAC-SHA256 of the id, from the business's server),
 * data-user-phone + data-phone-hash (HMAC-SHA256 of "phone:" + the number: links to that customer),
 * data-user-name, data-lang ("uk"/"en"; default: the browser's), data-open="true".
 * Everything customers, agents and the bot write is put in textContent: never parsed as HTML. */
(function () {
  "use strict";
  var script = document.currentScript ||
    document.querySelector('script[src*="/webchat/widget.js"]');
  if (!script || document.getElementById("omnirelay-webchat")) return;
  var KEY = script.getAttribute("data-key") || "";
  var BASE = new URL(script.src, location.href).origin;
  var wanted = (script.getAttribute("data-lang") || navigator.language || "en").toLowerCase();
  var LANG = wanted.indexOf("uk") === 0 || wanted.indexOf("ru") === 0 ? "uk" : "en";
  var WORDS = { // key: [Ukrainian, English]
    title: ["Чат з нами", "Chat with us"],
    open: ["Відкрити чат", "Open chat"],
    close: ["Закрити чат", "Close chat"],
    log: ["Повідомлення чату", "Chat messages"],
    input: ["Повідомлення", "Message"],
    placeholder: ["Напишіть повідомлення…", "Type a message…"],
    send: ["Надіслати", "Send"],
    hello: ["Вітаємо! Напишіть нам — відповімо тут.", "Hello! Write to us — we answer right here."],
    agent: ["Оператор", "Agent"],
    bot: ["Бот", "Bot"],
    you: ["Ви", "You"],
    typing: ["друкує…", "typing…"],
    failed: ["Не надіслано. Натисніть, щоб повторити.", "Not sent. Tap to try again."],
    phone: ["Ваш номер телефону", "Your phone number"],
    phoneSend: ["Поділитися номером", "Share my number"],
    online: ["на зв'язку", "online"],
    offline: ["відновлюємо зв'язок…", "reconnecting…"],
    more: ["Продовжити в месенджері", "Continue in a messenger"],
    qr: ["QR-код: відскануйте телефоном", "QR code: scan it with your phone"],
    unread: ["нове повідомлення", "new message"]
  };
  var T = { carry: "/link_account" }; // the payload of "continue in a messenger"
  Object.keys(WORDS).forEach(function (k) { T[k] = WORDS[k][LANG === "uk" ? 0 : 1]; });
  var state = {
    started: false, stream: null, lastId: null, ids: {}, mids: {}, seenSent: null, typingTimer: 0
  };

  function icon(path) { // a 24px outline icon: drawn the same with or without an emoji font
    var NS = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "24");
    svg.setAttribute("height", "24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var p = document.createElementNS(NS, "path");
    p.setAttribute("d", path);
    p.setAttribute("fill", "none");
    p.setAttribute("stroke", "currentColor");
    p.setAttribute("stroke-width", "2");
    p.setAttribute("stroke-linejoin", "round");
    svg.appendChild(p);
    return svg;
  }
  var CHAT_ICON = "M4 5h16v11H9l-5 4z";
  var PHONE_ICON = "M8 2h8a1 1 0 0 1 1 1v18a1 1 0 0 1-1 1H8a1 1 0 0 1-1-1V3a1 1 0 0 1 1-1zM11 18h2";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  var link = el("link");
  link.rel = "stylesheet";
  link.href = BASE + "/webchat/widget.css";
  document.head.appendChild(link);

  var root = el("div", "orw");
  root.id = "omnirelay-webchat";
  root.lang = LANG;
  var launcher = el("button", "orw-launcher");
  launcher.appendChild(icon(CHAT_ICON));
  launcher.type = "button";
  launcher.setAttribute("aria-label", T.open);
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "orw-panel");
  var panel = el("section", "orw-panel");
  panel.id = "orw-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", T.title);
  panel.hidden = true;
  var header = el("header", "orw-header");
  var title = el("h2", "orw-title", T.title);
  var status = el("span", "orw-status", "");
  status.setAttribute("aria-live", "polite");
  var carry = el("button", "orw-carry");
  carry.appendChild(icon(PHONE_ICON));
  carry.type = "button";
  carry.title = T.more;
  carry.setAttribute("aria-label", T.more);
  carry.hidden = true;
  var closer = el("button", "orw-close", "×");
  closer.type = "button";
  closer.setAttribute("aria-label", T.close);
  header.append(title, status, carry, closer);
  var log = el("div", "orw-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", T.log);
  log.tabIndex = 0;
  log.appendChild(el("p", "orw-hello", T.hello));
  var typing = el("div", "orw-typing", T.typing);
  typing.hidden = true;
  var phoneForm = el("form", "orw-phoneform");
  phoneForm.hidden = true;
  var phoneLabel = el("label", "orw-phonelabel", T.phone);
  var phoneInput = el("input", "orw-phoneinput");
  phoneInput.type = "tel";
  phoneInput.autocomplete = "tel";
  phoneInput.id = "orw-phone";
  phoneInput.placeholder = "+380…";
  phoneLabel.htmlFor = "orw-phone";
  var phoneButton = el("button", "orw-phonesend", T.phoneSend);
  phoneButton.type = "submit";
  phoneForm.append(phoneLabel, phoneInput, phoneButton);
  var form = el("form", "orw-form");
  var inputLabel = el("label", "orw-sr", T.input);
  inputLabel.htmlFor = "orw-input";
  var input = el("textarea", "orw-input");
  input.id = "orw-input";
  input.rows = 1;
  input.placeholder = T.placeholder;
  input.maxLength = 4000;
  var sendButton = el("button", "orw-send", "➤");
  sendButton.type = "submit";
  sendButton.setAttribute("aria-label", T.send);
  form.append(inputLabel, input, sendButton);
  panel.append(header, log, typing, phoneForm, form);
  root.append(launcher, panel);

  function api(path, body) {
    body.key = KEY;
    return fetch(BASE + path, {
      method: "POST", credentials: "include", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (res) {
      if (!res.ok) throw new Error("HTTP " + res.status);
      return res.json();
    });
  }

  function scroll() { log.scrollTop = log.scrollHeight; }

  function bubble(who, text, sender) {
    var item = el("div", "orw-msg orw-" + who);
    var name = who === "me" ? T.you : sender === "agent" ? T.agent : T.bot;
    item.appendChild(el("span", "orw-sr", name + ": "));
    if (sender === "agent") { // seen, not read twice: the hidden "Оператор: " says it already
      var who = el("span", "orw-who", T.agent);
      who.setAttribute("aria-hidden", "true");
      item.appendChild(who);
    }
    item.appendChild(el("span", "orw-text", text));
    log.appendChild(item);
    scroll();
    return item;
  }

  // Old chips and the phone field go when a message is sent or arrives. Focus on one of them
  // would fall to the page (a keyboard or screen-reader user loses their place): it moves to
  // the message field instead.
  function retire() {
    var focused = document.activeElement;
    var lost = focused && focused !== input &&
      ((log.contains(focused) && focused.classList.contains("orw-chip")) || phoneForm.contains(focused));
    var chips = log.querySelectorAll(".orw-chip");
    for (var i = 0; i < chips.length; i++) chips[i].disabled = true;
    phoneForm.hidden = true;
    if (lost) input.focus();
  }

  function drawButtons(item, buttons) {
    if (!buttons || !buttons.length) return;
    var row = el("div", "orw-buttons");
    row.setAttribute("role", "group");
    buttons.forEach(function (b) {
      if (b.url) {
        if (!/^(https?:|tg:|viber:)/i.test(b.url)) return; // never javascript: or data:
        var wrap = el("div", "orw-linkwrap");
        var a = el("a", "orw-link", b.title);
        a.href = b.url;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        wrap.appendChild(a);
        if (b.qr && b.qr.indexOf("data:image/svg+xml;base64,") === 0) {
          var img = el("img", "orw-qr");
          img.src = b.qr;
          img.alt = T.qr + " (" + b.title + ")";
          wrap.appendChild(img);
        }
        row.appendChild(wrap);
        return;
      }
      var chip = el("button", "orw-chip", b.title);
      chip.type = "button";
      chip.dataset.payload = b.payload;
      chip.addEventListener("click", function () {
        send({ payload: b.payload, title: b.title }, b.title);
      });
      row.appendChild(chip);
    });
    item.appendChild(row);
  }

  function onMessage(id, doc) {
    retire();
    typing.hidden = true;
    var item = bubble(doc.sender === "agent" ? "agent" : "bot", doc.text, doc.sender);
    item.dataset.eventId = id;
    drawButtons(item, doc.buttons);
    if (doc.phone) { // the flow's own words for the share-phone button, as other channels show
      phoneButton.textContent = doc.phone.label || T.phoneSend;
      phoneForm.hidden = false;
    }
    scroll();
    markSeen();
    if (panel.hidden) { // closed: the launcher says there is something new
      launcher.classList.add("orw-unread");
      launcher.setAttribute("aria-label", T.open + " — " + T.unread);
    }
  }

  function onVisitor(id, doc) {
    var pending = state.mids[doc.mid];
    if (pending) {
      pending.classList.remove("orw-pending", "orw-failed");
      pending.classList.add("orw-sent");
      return;
    }
    var item = bubble("me", doc.text);
    item.classList.add("orw-sent");
    state.mids[doc.mid] = item;
  }

  function onNotSent(doc) {
    var item = state.mids[doc.mid];
    if (!item) return;
    item.classList.remove("orw-pending", "orw-sent");
    item.classList.add("orw-failed");
    typing.hidden = true;
  }

  function handle(ev) {
    if (ev.lastEventId) {
      if (state.ids[ev.lastEventId]) return; // shown already (a resume)
      state.ids[ev.lastEventId] = true;
      state.lastId = ev.lastEventId;
    }
    var doc;
    try { doc = JSON.parse(ev.data); } catch (e) { return; }
    if (ev.type === "visitor") onVisitor(ev.lastEventId, doc);
    else if (ev.type === "not_sent") onNotSent(doc);
    else onMessage(ev.lastEventId, doc);
  }

  function connect() {
    var url = BASE + "/webchat/events?key=" + encodeURIComponent(KEY);
    if (state.lastId) url += "&after=" + encodeURIComponent(state.lastId);
    var stream = new EventSource(url, { withCredentials: true });
    state.stream = stream;
    stream.addEventListener("message", handle);
    stream.addEventListener("visitor", handle);
    stream.addEventListener("not_sent", handle);
    stream.onopen = function () { status.textContent = T.online; root.classList.add("orw-live"); };
    stream.onerror = function () {
      status.textContent = T.offline;
      root.classList.remove("orw-live");
      if (stream.readyState === EventSource.CLOSED) {
        setTimeout(function () { if (state.stream === stream) connect(); }, 3000);
      }
    };
  }

  function start() {
    if (state.started) return;
    state.started = true;
    var who = {};
    var uid = script.getAttribute("data-user-id");
    if (uid) { who.user_id = uid; who.user_hash = script.getAttribute("data-user-hash") || ""; }
    var phone = script.getAttribute("data-user-phone");
    if (uid && phone) { who.user_phone = phone; who.phone_hash = script.getAttribute("data-phone-hash") || ""; }
    api("/webchat/session", who).then(function (doc) {
      carry.hidden = !(doc.continue_in && doc.continue_in.length);
      connect();
    }).catch(function () {
      state.started = false;
      status.textContent = T.offline;
    });
  }

  function send(body, shown) {
    var mid = Math.random().toString(36).slice(2) + Date.now().toString(36);
    body.id = mid;
    body.language = LANG;
    var name = script.getAttribute("data-user-name");
    if (name) body.name = name;
    var item = bubble("me", shown);
    item.classList.add("orw-pending");
    state.mids[mid] = item;
    retire();
    typing.hidden = false; // the bot answers in a moment; an agent may take longer: not forever
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(function () { typing.hidden = true; }, 8000);
    scroll();
    api("/webchat/messages", body).catch(function () {
      typing.hidden = true;
      item.classList.remove("orw-pending");
      item.classList.add("orw-failed");
      var again = el("button", "orw-retry", T.failed);
      again.type = "button";
      again.addEventListener("click", function () {
        item.remove();
        delete body.id;
        send(body, shown);
      });
      item.appendChild(again);
    });
  }

  function markSeen() {
    if (panel.hidden || document.visibilityState !== "visible") return;
    var bots = log.querySelectorAll(".orw-bot, .orw-agent");
    if (!bots.length) return;
    var id = bots[bots.length - 1].dataset.eventId;
    if (!id || id === state.seenSent) return;
    state.seenSent = id;
    api("/webchat/seen", { id: id }).catch(function () { state.seenSent = null; });
  }

  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    root.classList.toggle("orw-open", open);
    if (open) { launcher.classList.remove("orw-unread"); launcher.setAttribute("aria-label", T.open); }
    if (open) { start(); input.focus(); scroll(); markSeen(); } else launcher.focus();
  }

  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  closer.addEventListener("click", function () { setOpen(false); });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") setOpen(false); });
  carry.addEventListener("click", function () { send({ payload: T.carry, title: T.more }, T.more); });
  document.addEventListener("visibilitychange", markSeen);
  function submitText() {
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    send({ text: text }, text);
  }
  form.addEventListener("submit", function (e) { e.preventDefault(); submitText(); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); submitText(); }
  });
  phoneForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var phone = phoneInput.value.trim();
    if (!phone) return;
    phoneInput.value = "";
    send({ phone: phone }, phone);
  });

  function mount() {
    document.body.appendChild(root);
    if (script.getAttribute("data-open") === "true") setOpen(true);
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
