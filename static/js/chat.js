// The customer chat page: start a chat, then talk. The session id and its secret token stay in
// sessionStorage, so a reload resumes the same chat; "Start a new chat" forgets them. Outside
// working hours (or after nobody answered in time) it offers a message form instead.
// Embedded (`?embed=1`, in the widget's frame on another site), it tells the widget how many
// messages came while its panel was closed (static/desk-widget.js).
"use strict";

(function () {
  const CC = window.CC;
  const { LiveSocket, wsUrl, el, renderMessages, markRead, typingNotifier, sendBox, uploader, t } =
    CC;
  const $ = (id) => document.getElementById(id);
  const KEY = "cc.chat";
  const LANG = document.documentElement.lang || "en";
  const EMBED = $("chat-root").dataset.embed === "1";
  const REASONS = {
    agent_ended: () => t("The agent ended this chat. Thank you for contacting us."),
    customer_ended: () => t("You left this chat."),
    staff_ended: () => t("This chat was closed by our staff."),
  };
  let socket = null;
  let session = null;
  let messages = [];
  let typingUntil = 0; // the agent shows as typing until then (ms)
  let readUpTo = null; // the last agent message this page said it read
  let panelOpen = !EMBED; // embedded: whether the widget's panel shows this page
  let unread = 0; // agent and system messages that came while the panel was closed

  // --- the widget around an embedded page ---------------------------------------------------

  function toWidget(message) {
    if (EMBED && window.parent !== window) {
      // Nothing secret: a count and a flag (and only sites allowed to frame us can listen).
      window.parent.postMessage({ source: "desk-chat", ...message }, "*");
    }
  }

  window.addEventListener("message", (ev) => {
    const data = ev.data;
    if (!EMBED || ev.source !== window.parent || !data || data.source !== "desk-widget") return;
    if (data.type === "panel") {
      panelOpen = Boolean(data.open);
      if (panelOpen) {
        setUnread(0);
        markSeen();
        if (!$("conversation").hidden) $("body").focus();
      }
    }
  });

  // Escape inside the frame closes the widget's panel (keys here never reach the host page).
  document.addEventListener("keydown", (ev) => {
    if (EMBED && ev.key === "Escape" && !ev.defaultPrevented) toWidget({ type: "close" });
  });

  function setUnread(count) {
    if (count === unread) return;
    unread = count;
    toWidget({ type: "unread", count });
  }

  function saved() {
    try {
      return JSON.parse(sessionStorage.getItem(KEY) || "null");
    } catch (e) {
      return null;
    }
  }

  // What went wrong with a field, said to the customer next to it (not the API's wording).
  const FIELD_ERRORS = {
    customer_name: ["name", () => t("Please tell us your name.")],
    email: ["email", () => t("Please check your email address.")],
    message: ["first", () => t("Please write what you need (up to 4000 characters).")],
    skill_group: ["group", () => t("Please choose what it is about.")],
  };

  function fieldError(field, text) {
    for (const [key, [inputId]] of Object.entries(FIELD_ERRORS)) {
      const on = key === field;
      const box = $(`${inputId}-error`);
      $(inputId).setAttribute("aria-invalid", String(on));
      box.hidden = !on;
      box.textContent = on ? text || FIELD_ERRORS[key][1]() : "";
    }
    if (field && FIELD_ERRORS[field]) $(FIELD_ERRORS[field][0]).focus();
  }

  $("start").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("start-error").hidden = true;
    fieldError(null);
    const button = $("start").querySelector("button");
    button.disabled = true;
    try {
      const email = $("email").value.trim();
      const resp = await fetch("/api/sessions/", {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": CC.csrfToken(),
        },
        body: JSON.stringify({
          customer_name: $("name").value,
          message: $("first").value,
          language: LANG,
          ...(email ? { email } : {}),
          ...(chosenGroup() ? { skill_group: chosenGroup() } : {}),
        }),
      });
      const data = await resp.json().catch(() => ({}));
      if (resp.status === 400 && FIELD_ERRORS[data.field]) {
        fieldError(data.field);
        return;
      }
      if (resp.status === 409 && data.code === "outside_working_hours") {
        showOffline(data.detail, { name: $("name").value, email, message: $("first").value });
        return;
      }
      if (resp.status !== 201) {
        throw new Error(data.detail || t("Could not start the chat (%(status)s).", resp));
      }
      sessionStorage.setItem(KEY, JSON.stringify({ id: data.id, token: data.customer_token }));
      session = data;
      messages = [];
      open(data.id, data.customer_token);
    } catch (err) {
      $("start-error").textContent = err.message;
      $("start-error").hidden = false;
    } finally {
      button.disabled = false;
    }
  });

  // The team: the widget's `data-skill-group`, else what the customer picked (if offered).
  function chosenGroup() {
    if (!$("group-choice").hidden) return $("group").value;
    return $("chat-root").dataset.prefillGroup || "";
  }

  // --- closed: a message instead of a chat ----------------------------------------------------

  let offlineFor = null; // the chat that timed out in the queue, if the form is for one

  function showOffline(notice, { name = "", email = "", message = "", chat = null } = {}) {
    offlineFor = chat;
    $("offline-notice").textContent = notice || t("We're closed right now.");
    if (name && !$("offline-name").value) $("offline-name").value = name;
    if (email && !$("offline-email").value) $("offline-email").value = email;
    if (message && !$("offline-message").value) $("offline-message").value = message;
    $("offline").hidden = false;
    $("offline-form").hidden = false;
    $("offline-thanks").hidden = true;
    $("start").hidden = true;
    $("conversation").hidden = Boolean(!chat);
    (chat ? $("offline-message") : $("offline-name")).focus();
  }

  $("offline-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const fail = (text) => {
      $("offline-error").textContent = text;
      $("offline-error").hidden = false;
    };
    $("offline-error").hidden = true;
    $("offline-send").disabled = true;
    try {
      const headers = { "Content-Type": "application/json", Accept: "application/json" };
      const body = {
        customer_name: $("offline-name").value,
        email: $("offline-email").value,
        message: $("offline-message").value,
      };
      if (offlineFor) {
        headers["X-Customer-Token"] = offlineFor.token;
        body.session_id = offlineFor.id;
      }
      const resp = await fetch(`/api/offline-messages/?lang=${encodeURIComponent(LANG)}`, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
      });
      const data = await resp.json().catch(() => ({}));
      if (resp.status !== 201) {
        const what = { customer_name: t("Please tell us your name."),
          email: t("Please check your email address."),
          message: t("Please write your message (up to 4000 characters).") };
        return fail(what[data.field] || data.detail || t("Your message was not sent; try again."));
      }
      $("offline-form").hidden = true;
      $("offline-thanks").hidden = false;
      $("offline-thanks").focus();
    } catch (err) {
      fail(t("Your message was not sent; try again."));
    } finally {
      $("offline-send").disabled = false;
    }
  });

  $("leave-message").addEventListener("click", () => {
    const chat = saved();
    showOffline(session && session.notice, {
      name: session && session.customer_name,
      email: session && session.email,
      chat,
    });
  });

  // --- the conversation ----------------------------------------------------------------------

  function connection(state) {
    const labels = {
      connecting: t("Connecting…"),
      up: t("Connected"),
      down: t("Reconnecting…"),
    };
    $("conn").dataset.state = state;
    $("conn").textContent = labels[state] || "";
  }

  function open(id, token) {
    $("start").hidden = true;
    $("offline").hidden = true;
    $("conversation").hidden = false;
    toWidget({ type: "chat", active: true });
    connection("connecting");
    render();
    socket = new LiveSocket(wsUrl(`/ws/customer/${id}/?token=${encodeURIComponent(token)}`), {
      onHello: (hello) => {
        session = hello.session;
        messages = hello.messages;
        if (hello.notice) session.notice = hello.notice;
        session.rating_requested = Boolean(hello.rating_requested);
        session.rating_scale = hello.rating_scale || 5;
        render();
      },
      onEvent: handle,
      onDown: () => connection("down"),
      onUp: () => connection("up"),
      onRefused: () => {
        // The chat is not ours (or no longer exists): start over.
        sessionStorage.removeItem(KEY);
        reset();
      },
    });
  }

  function handle(frame) {
    if (frame.type === "typing") {
      if (frame.sender !== "agent") return;
      typingUntil = Date.now() + 4000;
      setTimeout(render, 4050);
    } else if (frame.type === "message.read") {
      if (frame.reader === "agent") markRead(messages, "customer", frame.message_id, frame.ts);
    } else if (frame.type === "message.created") {
      if (frame.message.sender === "agent") typingUntil = 0;
      const fresh = !messages.some((x) => x.id === frame.message.id);
      addMessage(frame.message);
      if (fresh && !panelOpen && frame.message.sender !== "customer") setUnread(unread + 1);
    } else if (frame.type === "session.updated") {
      session = { ...session, ...frame.session };
    } else if (frame.type === "session.ended") {
      session = { ...session, ...(frame.session || {}), state: "ended", end_reason: frame.reason };
      if (frame.notice) session.notice = frame.notice;
      session.rating_requested = Boolean(frame.rating_requested);
      session.rating_scale = frame.rating_scale || 5;
    }
    render();
  }

  // Read receipts: what is on screen in a visible tab is read up to the last agent message.
  function markSeen() {
    if (!socket || document.hidden || !panelOpen) return;
    const last = [...messages].reverse().find((m) => m.sender === "agent");
    if (!last || last.read_at || readUpTo === last.id) return;
    readUpTo = last.id;
    socket.command({ type: "message.read", message_id: last.id }).catch(() => (readUpTo = null));
  }
  document.addEventListener("visibilitychange", () => markSeen());

  function addMessage(m) {
    if (!messages.some((x) => x.id === m.id)) messages.push(m);
  }

  function agentName() {
    return (session && session.agent && session.agent.display_name) || "";
  }

  function statusText() {
    if (!session) return "";
    switch (session.state) {
      case "queued":
        return session.queue_position
          ? t("Waiting in queue — position %(position)s", { position: session.queue_position })
          : t("Waiting in queue");
      case "offered":
        return t("Connecting you to an agent…");
      case "active":
        return t("%(agent)s joined", { agent: agentName() || t("An agent") });
      case "ended":
        return t("Chat ended");
      default:
        return "";
    }
  }

  // While nobody serves the chat: how long the customer has waited, to the second (by the
  // server's clock, as the socket measured it).
  function waitedText() {
    if (!session || !["queued", "offered"].includes(session.state)) return "";
    const since = Date.parse(session.created_at);
    if (Number.isNaN(since)) return "";
    const offset = socket ? socket.clockOffset : 0;
    const seconds = Math.max(0, Math.floor((Date.now() + offset - since) / 1000));
    const clock = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    return t("waiting %(time)s", { time: clock });
  }

  function renderWaited() {
    const text = waitedText();
    $("waited").hidden = !text;
    $("waited").textContent = text;
  }
  setInterval(renderWaited, 250); // a quarter second: the shown second is never a whole one late

  function render() {
    $("status").textContent = statusText();
    $("status").dataset.state = session ? session.state : "";
    renderWaited();
    // An end's notice is said once, in the end box: not also as the last bubble.
    const notice = session && session.state === "ended" ? session.notice : null;
    const shown = notice
      ? messages.filter((m) => !(m.sender === "system" && m.body === notice))
      : messages;
    const names = { agent: agentName(), customer: null, avatars: true };
    renderMessages($("log"), shown, "customer", withToken, names);
    const typing = session && session.state === "active" && typingUntil > Date.now();
    $("typing").hidden = !typing;
    if (typing) {
      $("typing").textContent = t("%(agent)s is typing…", { agent: agentName() || t("The agent") });
    }
    markSeen();
    const ended = session && session.state === "ended";
    $("end-box").hidden = !ended;
    $("send").hidden = ended;
    $("leave").hidden = ended;
    if (ended) {
      const reason = session.end_reason;
      const fallback = REASONS[reason] ? REASONS[reason]() : t("This chat has ended.");
      const byTimer = ["customer_idle_timeout", "queue_timeout"].includes(reason);
      $("end-reason").textContent = (byTimer && session.notice) || fallback;
      $("end-box").dataset.reason = reason || "";
      $("leave-message").hidden = reason !== "queue_timeout";
    }
    renderRating(ended);
  }

  // The rating: stars (or 1-10) once the chat an agent served has ended, asked once.
  function renderRating(ended) {
    const rated = Boolean(session && session.rating);
    const ask = ended && session.rating_requested && !rated;
    $("rating").hidden = !ask;
    $("rating-thanks").hidden = !(ended && rated);
    if (!ask || $("stars").dataset.scale === String(session.rating_scale)) return;
    const scale = session.rating_scale;
    $("stars").dataset.scale = String(scale);
    $("stars").classList.toggle("numbers", scale !== 5);
    // Stars are laid out right to left (so a hovered star lights those before it): the highest
    // comes first in the page.
    const order = Array.from({ length: scale }, (_, i) => i);
    if (scale === 5) order.reverse();
    $("stars").replaceChildren(
      ...order.map((i) => {
        const input = el("input", { type: "radio", name: "score", value: String(i + 1), id: `score-${i + 1}` });
        const said = t("%(score)s of %(scale)s", { score: i + 1, scale });
        const label = el("label", { htmlFor: `score-${i + 1}`, title: said }, scale === 5 ? "★" : String(i + 1));
        label.setAttribute("aria-label", said);
        return el("span", { class: "star" }, input, label);
      }),
    );
  }

  $("rating").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const picked = $("rating").querySelector("input[name=score]:checked");
    const fail = (text) => {
      $("rating-error").textContent = text;
      $("rating-error").hidden = false;
    };
    if (!picked) return fail(t("Pick a score first."));
    const chat = saved();
    $("rating-send").disabled = true;
    try {
      const resp = await fetch(`/api/sessions/${chat.id}/rating/`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-Customer-Token": chat.token },
        body: JSON.stringify({ score: Number(picked.value), comment: $("rating-comment").value }),
      });
      const data = await resp.json().catch(() => ({}));
      if (resp.status !== 201) return fail(data.detail || t("Your rating was not saved."));
      session.rating = data;
      $("rating-error").hidden = true;
      render();
    } finally {
      $("rating-send").disabled = false;
    }
  });

  // Files are served to this page with its token (a plain link or <img> sends no header).
  function withToken(url) {
    const chat = saved();
    return chat ? `${url}?token=${encodeURIComponent(chat.token)}` : url;
  }

  uploader({
    button: $("attach"),
    input: $("file"),
    zone: $("conversation"),
    progress: $("upload-progress"),
    target: () => {
      const chat = saved();
      if (!chat || !session || session.state === "ended") return null;
      return { url: `/api/sessions/${chat.id}/attachments/`, headers: { "X-Customer-Token": chat.token } };
    },
    onSent: (message) => {
      addMessage(message);
      render();
    },
    onError: (detail) => alert(detail),
  });

  typingNotifier($("body"), () => {
    if (socket && session && session.state === "active") {
      socket.command({ type: "typing" }).catch(() => {});
    }
  });

  sendBox(
    $("send"),
    $("body"),
    (body) =>
      socket &&
      socket.command({ type: "message.send", body }).then((ack) => {
        addMessage(ack.message);
        render();
      }),
    (err) => alert(err.detail || t("Your message was not sent; try again.")),
  );

  $("leave").addEventListener("click", () => {
    if (socket) socket.command({ type: "session.end" }).catch(() => {});
  });

  function reset() {
    if (socket) socket.close();
    socket = null;
    session = null;
    messages = [];
    setUnread(0);
    toWidget({ type: "chat", active: false });
    $("conversation").hidden = true;
    $("offline").hidden = true;
    $("start").hidden = false;
    $("first").value = "";
    $("conn").dataset.state = "idle";
    $("conn").textContent = "";
    checkOpen();
  }

  $("new-chat").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    reset();
  });

  // Closed (working hours): the message form instead of the chat.
  function checkOpen() {
    fetch(`/api/public/status/?lang=${encodeURIComponent(LANG)}`, {
      headers: { Accept: "application/json" },
    })
      .then((resp) => (resp.ok ? resp.json() : null))
      .then((status) => {
        if (status && status.open === false && !socket) showOffline(status.offline_notice);
      })
      .catch(() => {});
  }

  // The customer picks a team when there are two or more to pick from (the default first),
  // unless the site embedding the chat chose one.
  function loadGroups() {
    fetch("/api/public/skill-groups/", { headers: { Accept: "application/json" } })
      .then((resp) => (resp.ok ? resp.json() : []))
      .then((groups) => {
        if (!Array.isArray(groups) || groups.length < 2) return;
        $("group").replaceChildren(
          ...groups.map((g) => {
            const option = document.createElement("option");
            option.value = g.id;
            option.textContent = g.name;
            return option;
          }),
        );
        $("group-choice").hidden = false;
      })
      .catch(() => {});
  }
  if (!$("chat-root").dataset.prefillGroup) loadGroups();

  const resume = saved();
  if (resume && resume.id && resume.token) open(resume.id, resume.token);
  else checkOpen();
  toWidget({ type: "ready" });
})();
