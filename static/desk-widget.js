// The desk's chat widget for other sites. Embed it with
//   <script src="https://DESK/static/desk-widget.js" data-desk="https://DESK" async></script>
// (optional: data-skill-group, data-customer-name, data-email, data-lang). It adds a launcher
// button; the first click opens a panel framing `${desk}/chat/?embed=1` (nothing is fetched
// before). The chat page and the widget talk with postMessage: the page says "ready", its
// unread count and whether a chat is active; the widget says whether the panel is open. The
// host's sessionStorage ("desk-widget") keeps an active chat, and the panel's state, across
// the host's page loads in one tab. The site must be in the desk's WIDGET_ALLOWED_ORIGINS.
// Escape closes the panel; inside the frame the chat page may ask for it ({type: "close"}).
(function () {
  "use strict";
  if (window.__deskWidget) return; // loaded twice: one launcher is enough
  window.__deskWidget = true;

  const script =
    document.currentScript ||
    Array.from(document.scripts)
      .reverse()
      .find((s) => /desk-widget\.js$/.test(s.src.split(/[?#]/)[0]));
  if (!script) return;
  const data = script.dataset;
  const desk = (data.desk || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  const deskOrigin = new URL(desk, location.href).origin;
  const lang = data.lang || document.documentElement.lang || navigator.language || "en";
  const zh = /^zh/i.test(lang);
  const T = zh
    ? {
        name: "\u8054\u7cfb\u6211\u4eec", // 联系我们
        close: "\u5173\u95ed\u804a\u5929", // 关闭聊天
        unread: (n) => `\u8054\u7cfb\u6211\u4eec\uff0c${n} \u6761\u672a\u8bfb`, // 联系我们，n 条未读
      }
    : { name: "Chat with us", close: "Close chat", unread: (n) => `Chat with us, ${n} unread` };
  const KEY = "desk-widget";

  function load() {
    try {
      return JSON.parse(sessionStorage.getItem(KEY)) || {};
    } catch (e) {
      return {}; // storage blocked or garbled: start afresh
    }
  }
  const state = load();
  function save() {
    try {
      const { open, active } = state;
      sessionStorage.setItem(KEY, JSON.stringify({ open: !!open, active: !!active }));
    } catch (e) {
      // storage blocked: the widget still works within this page
    }
  }

  const CSS = `
:host { all: initial; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
button { font: inherit; cursor: pointer; }
.launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 60px;
  height: 60px; padding: 0; border: 0; border-radius: 50%; background: #2563eb; color: #fff;
  box-shadow: 0 4px 14px rgba(0,0,0,.25); display: flex; align-items: center;
  justify-content: center; transition: transform .15s; }
.launcher:hover { transform: scale(1.06); }
.launcher:focus-visible, .close:focus-visible { outline: 3px solid #93c5fd; outline-offset: 2px; }
.launcher svg { width: 28px; height: 28px; }
.launcher .x, .open .launcher .bubble { display: none; }
.open .launcher .x { display: block; }
.badge { position: absolute; top: -4px; right: -4px; min-width: 22px; height: 22px;
  padding: 0 6px; border-radius: 11px; background: #dc2626; color: #fff; border: 2px solid #fff;
  font: 700 12px/18px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  text-align: center; }
.panel { position: fixed; right: 20px; bottom: 92px; z-index: 2147483000; width: 370px;
  height: 560px; max-width: calc(100vw - 40px); max-height: calc(100vh - 112px);
  display: flex; flex-direction: column; background: #fff; border-radius: 12px;
  overflow: hidden; box-shadow: 0 10px 40px rgba(0,0,0,.28); visibility: hidden; }
.open .panel { visibility: visible; animation: dw-in .18s ease-out; }
@keyframes dw-in { from { opacity: 0; transform: translateY(12px); } }
.head { flex: none; display: flex; align-items: center; justify-content: space-between;
  height: 48px; padding: 0 8px 0 16px; background: #2563eb; color: #fff;
  font: 600 16px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.close { width: 36px; height: 36px; padding: 0; border: 0; border-radius: 6px;
  background: transparent; color: inherit; font-size: 26px; line-height: 1; }
.close:hover { background: rgba(255,255,255,.15); }
iframe { flex: 1; width: 100%; border: 0; background: #f5f6f8; }
@media (max-width: 479px) {
  .panel { inset: 0; width: 100%; height: 100%; max-width: none; max-height: none;
    border-radius: 0; }
  .open .launcher { display: none; }
}
@media (prefers-reduced-motion: reduce) {
  .open .panel, .launcher { animation: none; transition: none; }
}
`;
  const SVG = "http://www.w3.org/2000/svg";
  const BUBBLE = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";
  function icon(cls, d) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", cls);
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", d);
    path.setAttribute("fill", cls === "x" ? "none" : "currentColor");
    path.setAttribute("stroke", "currentColor");
    path.setAttribute("stroke-width", cls === "x" ? "2.5" : "0");
    path.setAttribute("stroke-linecap", "round");
    svg.append(path);
    return svg;
  }
  function h(tag, props, ...children) {
    const node = Object.assign(document.createElement(tag), props);
    node.append(...children);
    return node;
  }

  let wrap, launcher, badge, panel, frame;
  let opened = false;
  let unread = 0;

  function tell() {
    // Dropped by the browser while the frame holds no desk page yet; "ready" repeats it.
    if (frame && frame.contentWindow) {
      const msg = { source: "desk-widget", type: "panel", open: opened };
      frame.contentWindow.postMessage(msg, deskOrigin);
    }
  }

  function chatUrl() {
    const q = new URLSearchParams({ embed: "1", lang: zh ? "zh-Hans" : "en" });
    const given = [
      ["customer_name", data.customerName],
      ["email", data.email],
      ["skill_group", data.skillGroup],
    ];
    for (const [key, value] of given) if (value) q.set(key, value);
    return `${desk}/chat/?${q}`;
  }

  function makePanel() {
    const close = h("button", { type: "button", className: "close", title: T.close }, "\u00d7");
    close.setAttribute("aria-label", T.close);
    close.addEventListener("click", () => show(false, true));
    frame = h("iframe", { title: T.name, src: chatUrl() });
    // Closed, it is invisible but keeps its size: the chat page inside stays laid out (its
    // log scrolls to new messages) and live.
    panel = h("div", { className: "panel", id: "panel" });
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", T.name);
    panel.append(h("div", { className: "head" }, h("span", {}, T.name), close), frame);
    wrap.append(panel);
    launcher.setAttribute("aria-controls", "panel");
  }

  function show(open, byUser) {
    if (open && !panel) makePanel();
    opened = open;
    state.open = open;
    save();
    wrap.classList.toggle("open", open);
    launcher.setAttribute("aria-expanded", String(open));
    tell();
    if (byUser) (open ? frame : launcher).focus();
  }

  function setUnread(n) {
    unread = Math.max(0, Math.floor(Number(n)) || 0);
    badge.textContent = unread > 9 ? "9+" : String(unread);
    badge.hidden = unread === 0;
    launcher.setAttribute("aria-label", unread ? T.unread(unread) : T.name);
  }

  window.addEventListener("message", (ev) => {
    if (!frame || ev.source !== frame.contentWindow || ev.origin !== deskOrigin) return;
    const msg = ev.data;
    if (!msg || typeof msg !== "object" || msg.source !== "desk-chat") return;
    if (msg.type === "ready") tell();
    else if (msg.type === "unread") setUnread(msg.count);
    else if (msg.type === "chat") {
      state.active = !!msg.active;
      save();
    } else if (msg.type === "close" && opened) show(false, true); // Escape inside the frame
  });

  function mount() {
    const host = h("div", { id: "desk-widget" });
    const root = host.attachShadow({ mode: "open" });
    wrap = h("div", { className: "wrap" });
    launcher = h("button", { type: "button", className: "launcher", title: T.name });
    badge = h("span", { className: "badge", hidden: true });
    badge.setAttribute("aria-hidden", "true");
    launcher.append(icon("bubble", BUBBLE), icon("x", "M6 6l12 12M18 6L6 18"), badge);
    launcher.addEventListener("click", () => show(!opened, true));
    wrap.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && opened) show(false, true);
    });
    wrap.append(launcher);
    root.append(h("style", {}, CSS), wrap);
    document.body.append(host);
    setUnread(0);
    launcher.setAttribute("aria-expanded", "false");
    // A chat going on in an earlier page of this tab: frame it again now (hidden if the
    // panel was closed, so the badge still counts), and reopen the panel if it was open.
    if (state.active) {
      makePanel();
      if (state.open) show(true, false);
    }
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
