// HTX Connect web chat: talks to POST /web/chat, renders replies safely (textContent only) and keeps the transcript.
(function () {
  "use strict";

  var SESSION_KEY = "htx-session";
  var TRANSCRIPT_KEY = "htx-transcript";
  var MAX_SAVED = 100;
  var TIMEOUT_MS = 20000;
  var ERROR_TEXT = "Xin lỗi, có lỗi kết nối. Bạn thử gửi lại nhé.";

  var list = document.getElementById("messages");
  var form = document.getElementById("composer");
  var input = document.getElementById("input");
  var sendButton = document.getElementById("send");
  var restartButton = document.getElementById("restart");

  var transcript = [];   // saved messages: {from: "user"|"bot", text, buttons, image_url}
  var pending = false;   // true while a request is in flight
  var generation = 0;    // bumped by "Bắt đầu lại" so late replies from the old chat are dropped
  var typingEl = null;

  // --- storage (localStorage may be unavailable, e.g. private mode: fall back to memory) ---
  var memory = {};
  function load(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return memory[key] || null; }
  }
  function store(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { memory[key] = value; }
  }
  function forget(key) {
    try { window.localStorage.removeItem(key); } catch (e) { /* ignore */ }
    delete memory[key];
  }

  // 20 random characters of A-Za-z0-9 (rejection sampling keeps every character equally likely).
  function newSession() {
    var alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    var out = "";
    var bytes = new Uint8Array(32);
    while (out.length < 20) {
      window.crypto.getRandomValues(bytes);
      for (var i = 0; i < bytes.length && out.length < 20; i++) {
        if (bytes[i] < 248) out += alphabet[bytes[i] % 62];
      }
    }
    return out;
  }

  function getSession() {
    var id = load(SESSION_KEY);
    if (!id || !/^[A-Za-z0-9]{20}$/.test(id)) {
      id = newSession();
      store(SESSION_KEY, id);
    }
    return id;
  }

  // Keep only well-formed messages; anything odd in storage or the response is dropped, not trusted.
  function clean(msg) {
    if (!msg || typeof msg !== "object") return null;
    var from = msg.from === "user" ? "user" : "bot";
    var buttons = Array.isArray(msg.buttons) ? msg.buttons.filter(function (b) {
      return b && typeof b.title === "string" && typeof b.payload === "string" && b.title;
    }).map(function (b) { return { title: b.title, payload: b.payload }; }) : [];
    var image = typeof msg.image_url === "string" && /^(\/(?!\/)|https?:\/\/)/.test(msg.image_url)
      ? msg.image_url : null;
    var text = typeof msg.text === "string" ? msg.text : "";
    if (!text && !image && !buttons.length) return null;
    return { from: from, text: text, buttons: buttons, image_url: image };
  }

  function saveTranscript() {
    transcript = transcript.slice(-MAX_SAVED);
    store(TRANSCRIPT_KEY, JSON.stringify(transcript));
  }

  function loadTranscript() {
    try {
      var saved = JSON.parse(load(TRANSCRIPT_KEY) || "[]");
      return Array.isArray(saved) ? saved.map(clean).filter(Boolean).slice(-MAX_SAVED) : [];
    } catch (e) {
      return [];
    }
  }

  // --- rendering (textContent only: never innerHTML with server or user text) ---
  function el(tag, className) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    return node;
  }

  function scrollToBottom() {
    list.scrollTop = list.scrollHeight;
  }

  function renderMessage(msg, isError) {
    var row = el("div", "msg msg-" + msg.from + (isError ? " msg-error" : "") + (msg.image_url ? " msg-image" : ""));
    var bubble = el("div", "bubble");
    if (msg.image_url) {
      var img = el("img", "card-img");
      img.alt = msg.text.split("\n")[0] || "Hình sản phẩm";
      img.decoding = "async";
      img.addEventListener("load", scrollToBottom);
      img.addEventListener("error", function () { img.remove(); });
      img.src = msg.image_url;
      bubble.appendChild(img);
    }
    if (msg.text) {
      var p = el("p", "text");
      p.textContent = msg.text;
      bubble.appendChild(p);
    }
    row.appendChild(bubble);
    if (msg.buttons && msg.buttons.length) {
      var chips = el("div", "chips");
      msg.buttons.forEach(function (b) {
        var chip = el("button", "chip");
        chip.type = "button";
        chip.textContent = b.title;
        chip.addEventListener("click", function () { send({ payload: b.payload }, b.title); });
        chips.appendChild(chip);
      });
      row.appendChild(chips);
    }
    list.insertBefore(row, typingEl && typingEl.parentNode === list ? typingEl : null);
    scrollToBottom();
    return row;
  }

  // Add a message to the page and (unless it is a transient error) to the saved transcript.
  function addMessage(msg, isError) {
    var row = renderMessage(msg, isError);
    if (!isError) {
      transcript.push(msg);
      saveTranscript();
    }
    return row;
  }

  function removeMessage(row, msg) {
    row.remove();
    var i = transcript.lastIndexOf(msg);
    if (i !== -1) {
      transcript.splice(i, 1);
      saveTranscript();
    }
  }

  function setPending(on) {
    pending = on;
    sendButton.disabled = on;
    if (on && !typingEl) {
      typingEl = el("div", "msg msg-bot typing");
      var bubble = el("div", "bubble");
      var dots = el("span", "dots");
      dots.setAttribute("aria-hidden", "true");
      dots.appendChild(el("span"));
      dots.appendChild(el("span"));
      dots.appendChild(el("span"));
      bubble.appendChild(dots);
      bubble.appendChild(document.createTextNode("đang trả lời…"));
      typingEl.appendChild(bubble);
      list.appendChild(typingEl);
      scrollToBottom();
    } else if (!on && typingEl) {
      typingEl.remove();
      typingEl = null;
    }
  }

  // --- network ---
  // body is {text} or {payload}; userText (if any) is shown as the user's bubble.
  // Resolves true on success; on failure shows the error bubble and resolves false.
  function send(body, userText) {
    if (pending) return Promise.resolve(false);
    var myGeneration = generation;
    var userMsg = null, userRow = null;
    if (userText) {
      userMsg = { from: "user", text: userText, buttons: [], image_url: null };
      userRow = addMessage(userMsg);
    }
    setPending(true);

    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, TIMEOUT_MS) : null;
    var request = { session: getSession() };
    if (body.payload !== undefined) request.payload = body.payload; else request.text = body.text;

    return fetch("/web/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(request),
      signal: controller ? controller.signal : undefined
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) throw new Error("HTTP " + res.status + (data && data.error ? ": " + data.error : ""));
        return data;
      });
    }).then(function (data) {
      if (myGeneration !== generation) return false;
      var replies = data && Array.isArray(data.replies) ? data.replies : [];
      replies.forEach(function (r) {
        var msg = clean({ from: "bot", text: r && r.text, buttons: r && r.buttons, image_url: r && r.image_url });
        if (msg) addMessage(msg);
      });
      return true;
    }).catch(function (err) {
      if (myGeneration !== generation) return false;
      if (window.console) console.warn("HTX Connect: gửi thất bại", err);
      // The message did not get through: drop its bubble so a retry doesn't duplicate it.
      if (userRow) removeMessage(userRow, userMsg);
      addMessage({ from: "bot", text: ERROR_TEXT, buttons: [], image_url: null }, true);
      return false;
    }).then(function (ok) {
      if (timer) clearTimeout(timer);
      if (myGeneration === generation) setPending(false);
      return ok;
    });
  }

  function sendText() {
    var text = input.value.trim();
    if (!text || pending) return;
    input.value = "";
    autoGrow();
    send({ text: text }, text).then(function (ok) {
      // Give the typed text back so it isn't lost (unless the user already typed something new).
      if (!ok && !input.value) {
        input.value = text;
        autoGrow();
      }
    });
  }

  // Grow the textarea with its content where CSS field-sizing is not supported.
  function autoGrow() {
    if (window.CSS && CSS.supports && CSS.supports("field-sizing", "content")) return;
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 3, 140) + "px";
  }

  function start() {
    transcript = loadTranscript();
    transcript.forEach(function (msg) { renderMessage(msg, false); });
    if (!transcript.length) send({ payload: "menu" });  // greeting: no user bubble
  }

  function restart() {
    generation++;
    setPending(false);
    forget(TRANSCRIPT_KEY);
    forget(SESSION_KEY);
    transcript = [];
    while (list.firstChild) list.removeChild(list.firstChild);
    start();
    input.focus();
  }

  // --- wiring ---
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    sendText();
  });

  input.addEventListener("keydown", function (e) {
    // Enter sends, Shift+Enter adds a line; ignore Enter while an IME (e.g. Vietnamese Telex) is composing.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      sendText();
    }
  });

  input.addEventListener("input", autoGrow);
  restartButton.addEventListener("click", restart);

  start();
})();
