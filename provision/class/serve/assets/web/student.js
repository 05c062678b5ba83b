"use strict";
(() => {
const B = document.body.dataset;
const base = "/s/" + encodeURIComponent(B.student) + "/";
const terms = new Map(); // key "term:web1" -> {term, fit, ws, pane, tab}
let current = "";

async function refresh() {
  let st;
  try { st = await get(base + "state"); } catch (e) { showDown(String(e.message || e)); return; }
  showDown(st.down || (st.op ? "Your teacher is " + st.op + " your copy of the lab." : ""));
  renderNodes(st.nodes || []);
  renderHistory(st.history || []);
  renderKeys(st.keys || []);
}

function showDown(msg) {
  const d = document.getElementById("down");
  d.textContent = msg;
  d.hidden = !msg;
}

function renderNodes(nodes) {
  const box = document.getElementById("nodes");
  box.replaceChildren(...nodes.map(n => el("div", {class: "node", "data-node": n.name},
    el("span", {class: "name", text: n.name}),
    el("span", {class: "state " + (n.state === "running" ? "running" : "other"), text: n.state}),
    el("div", {class: "addrs", text: (n.addresses || []).join("  ")}),
    el("button", {class: "open-term", text: "Terminal", onclick: () => open(n.name, "term")}),
    el("button", {class: "open-console", text: "Console", onclick: () => open(n.name, "console")}),
  )));
}

function open(node, kind) {
  const key = kind + ":" + node;
  if (terms.has(key)) { show(key); return; }
  document.getElementById("noterm").hidden = true;
  const pane = el("div", {class: "term", "data-key": key, "data-node": node, "data-kind": kind});
  document.getElementById("terms").append(pane);
  const term = new Terminal({cursorBlink: true, fontSize: 14, scrollback: 5000, convertEol: false,
    fontFamily: "DejaVu Sans Mono, Liberation Mono, monospace"});
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(pane);
  const tab = el("button", {"data-key": key, onclick: () => show(key)},
    (kind === "console" ? "console " : "") + node,
    el("span", {class: "x", text: "×", title: "close", onclick: ev => { ev.stopPropagation(); close(key); }}));
  document.getElementById("tabs").append(tab);
  const t = {term, fit, pane, tab, ws: null};
  terms.set(key, t);
  show(key);
  const proto = location.protocol === "https:" ? "wss://" : "ws://";
  const ws = new WebSocket(proto + location.host + base + kind + "/" + encodeURIComponent(node) +
    "?cols=" + term.cols + "&rows=" + term.rows);
  ws.binaryType = "arraybuffer";
  t.ws = ws;
  const enc = new TextEncoder();
  ws.onmessage = ev => {
    if (typeof ev.data === "string") {
      try { const m = JSON.parse(ev.data); if (m.error) term.write("\r\n\x1b[31m" + m.error.replace(/[\x00-\x1f\x7f]/g, " ") + "\x1b[0m\r\n"); } catch (e) {}
      return;
    }
    term.write(new Uint8Array(ev.data));
  };
  ws.onclose = () => { term.write("\r\n\x1b[90m[closed]\x1b[0m\r\n"); pane.dataset.closed = "1"; };
  term.onData(d => { if (ws.readyState === 1) ws.send(enc.encode(d)); });
  term.onResize(({cols, rows}) => { if (ws.readyState === 1) ws.send(JSON.stringify({cols, rows})); });
  ws.onopen = () => { pane.dataset.open = "1"; ws.send(JSON.stringify({cols: term.cols, rows: term.rows})); };
}

function show(key) {
  current = key;
  for (const [k, t] of terms) {
    t.pane.hidden = k !== key;
    t.tab.classList.toggle("on", k === key);
  }
  const t = terms.get(key);
  if (t) { t.fit.fit(); t.term.focus(); }
}

function close(key) {
  const t = terms.get(key);
  if (!t) return;
  if (t.ws) t.ws.close();
  t.term.dispose();
  t.pane.remove();
  t.tab.remove();
  terms.delete(key);
  if (current === key) {
    const next = terms.keys().next();
    if (!next.done) show(next.value); else document.getElementById("noterm").hidden = false;
  }
}

window.addEventListener("resize", () => { const t = terms.get(current); if (t) t.fit.fit(); });

function renderResult(rec) {
  const box = document.getElementById("result");
  const r = rec.result || {};
  const fails = (r.checks || []).filter(c => !c.pass);
  const kids = [];
  if (r.error) {
    kids.push(el("p", {class: "summary fail", text: r.error}));
  } else {
    kids.push(el("p", {class: "summary " + (fails.length ? "fail" : "pass"), id: "summary",
      text: rec.passed + " of " + rec.total + " checks pass" + (fails.length ? "" : ": well done.")}));
  }
  for (const c of fails) {
    kids.push(el("div", {class: "fail-item", "data-check": c.node + ": " + c.name},
      el("div", {class: "what", text: "FAIL " + c.node + ": " + c.name}),
      c.why ? el("div", {class: "why", text: c.why}) : null,
      c.fix ? el("div", {class: "fix", text: c.fix}) : null));
  }
  box.replaceChildren(...kids);
}

function renderHistory(h) {
  const ol = document.getElementById("history");
  ol.replaceChildren(...h.slice().reverse().map(rec => {
    const ok = !rec.result.error && rec.passed === rec.total && rec.total > 0;
    return el("li", {class: ok ? "pass" : "fail"},
      clock(rec.time) + "  " + (rec.result.error ? "could not check" : rec.passed + "/" + rec.total));
  }));
  if (h.length && !document.getElementById("result").hasChildNodes()) renderResult(h[h.length - 1]);
}

function renderKeys(keys) {
  document.getElementById("keylist").replaceChildren(...keys.map(k => el("li", {text: k})));
}

document.getElementById("check").addEventListener("click", async ev => {
  const b = ev.target;
  b.disabled = true;
  b.textContent = "Checking…";
  try {
    const rec = await send(base + "check");
    renderResult(rec);
    await refresh();
  } catch (e) {
    document.getElementById("result").replaceChildren(el("p", {class: "summary fail", text: String(e.message || e)}));
  } finally {
    b.disabled = false;
    b.textContent = "Check my work";
  }
});

document.getElementById("addkey").addEventListener("click", async () => {
  const msg = document.getElementById("keymsg");
  try {
    const r = await send(base + "key", {key: document.getElementById("key").value});
    renderKeys(r.keys || []);
    msg.textContent = "registered";
    document.getElementById("key").value = "";
  } catch (e) { msg.textContent = String(e.message || e); }
});

refresh();
setInterval(refresh, 20000);
})();
