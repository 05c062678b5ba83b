"use strict";
(() => {
const B = document.body.dataset;
const stages = JSON.parse(B.stages || "[]");
const rows = new Map(); // student -> row
let cols = [];          // [{node, names: []}]
let colSig = "";

function columns() {
  const order = [], names = new Map();
  for (const r of [...rows.values()].sort((a, b) => a.student.localeCompare(b.student))) {
    for (const c of r.checks) {
      if (!names.has(c.node)) { names.set(c.node, []); order.push(c.node); }
      const l = names.get(c.node);
      if (!l.includes(c.name)) l.push(c.name);
    }
  }
  return order.map(n => ({node: n, names: names.get(n)}));
}

function render() {
  cols = columns();
  colSig = JSON.stringify(cols);
  const head = el("tr", {},
    el("th", {text: "student"}), el("th", {text: "progress"}), el("th", {text: "active"}),
    ...cols.map(g => el("th", {class: "node", text: g.node, title: g.names.length + " checks on " + g.node})),
    el("th", {text: ""}), el("th", {text: ""}));
  document.querySelector("#grid thead").replaceChildren(head);
  const body = document.querySelector("#grid tbody");
  body.replaceChildren(...[...rows.values()].sort((a, b) => a.student.localeCompare(b.student)).map(rowEl));
  summary();
}

function update(r) {
  rows.set(r.student, r);
  if (JSON.stringify(columns()) !== colSig) { render(); return; }
  const old = document.querySelector('#grid tbody tr[data-student="' + CSS.escape(r.student) + '"]');
  if (old) old.replaceWith(rowEl(r)); else render();
  summary();
}

function summary() {
  const all = [...rows.values()];
  const done = all.filter(r => r.total > 0 && r.passed === r.total && !r.error).length;
  const never = all.filter(r => !r.checked).length;
  document.getElementById("summary").textContent =
    all.length + " students · " + done + " all pass · " + never + " not checked yet";
}

function rowEl(r) {
  const byKey = new Map(r.checks.map(c => [c.node + "\u0000" + c.name, c]));
  let state = "none";
  if (r.down) state = "down";
  else if (r.error) state = "fail";
  else if (r.total > 0) state = r.passed === r.total ? "pass" : "fail";
  const pct = r.total ? Math.round(100 * r.passed / r.total) : 0;
  const bar = el("i");
  bar.style.width = pct + "%";
  const tr = el("tr", {"data-student": r.student, "data-state": state},
    el("th", {class: "student", title: r.student},
      el("a", {href: "/s/" + encodeURIComponent(r.student) + "/", target: "_blank", rel: "noopener", text: r.student,
        onclick: ev => { if (ev.altKey) { ev.preventDefault(); detail(r); } }})),
    el("td", {class: "progress " + (state === "pass" ? "pass" : state === "fail" || state === "down" ? "fail" : ""),
      title: r.checked ? "last check " + clock(r.checked) : "not checked yet", onclick: () => detail(r)},
      el("span", {class: "bar"}, bar), el("span", {class: "n", text: r.total ? r.passed + "/" + r.total : "–"})),
    el("td", {class: "activity", "data-t": r.activity || "", text: ago(r.activity),
      title: (r.sessions || 0) + " sessions, " + (r.terminals || 0) + " terminals open"}),
    ...cols.map(g => el("td", {class: "cells", "data-node": g.node}, ...g.names.map(name => {
      const c = byKey.get(g.node + "\u0000" + name);
      const s = c ? (c.pass ? "pass" : "fail") : "none";
      let t = g.node + ": " + name + " — " + (c ? (c.pass ? "PASS" : "FAIL") : "not checked");
      if (c && !c.pass) t += (c.why ? "\n" + c.why : "") + (c.fix ? "\nfix: " + c.fix : "");
      return el("span", {class: "c " + s, title: t, "data-check": g.node + ": " + name,
        onclick: ev => detail(r, c || {node: g.node, name, none: true}, ev.target)});
    }))),
    el("td", {class: "actions"},
      el("a", {href: "/s/" + encodeURIComponent(r.student) + "/", target: "_blank", rel: "noopener", text: "open", title: "their page: terminals, console, handout"}),
      resetSelect(r),
      el("button", {class: "up", text: "up", title: "bring a missing copy up", disabled: !!r.op, onclick: () => act("up", r.student)}),
      el("button", {class: "revoke", text: "revoke", title: "end " + r.student + "'s sessions (" + (r.sessions || 0) + ")", onclick: () => act("revoke", r.student)})),
    note(r));
  return tr;
}

function note(r) {
  if (r.op) return el("td", {class: "note n-op", text: r.op + "…"});
  if (r.opError) return el("td", {class: "note n-error", text: r.opError, title: r.opError});
  if (r.checking) return el("td", {class: "note n-op", text: "checking…"});
  if (r.down) return el("td", {class: "note n-down", text: "copy down: " + r.down, title: r.down});
  if (r.error) return el("td", {class: "note n-error", text: r.error, title: r.error});
  return el("td", {class: "note"});
}

function resetSelect(r) {
  const sel = el("select", {class: "reset", title: "reset " + r.student + "'s copy", disabled: !!r.op},
    el("option", {value: "-", text: "reset…"}), el("option", {value: "", text: "to bare"}),
    ...stages.map(s => el("option", {value: s, text: "to " + s})));
  sel.addEventListener("change", () => {
    const stage = sel.value;
    sel.value = "-";
    if (stage === "-") return;
    if (!confirm("Reset " + r.student + "'s copy " + (stage ? "to stage " + stage : "to bare") + "? Their work on it is lost.")) return;
    act("reset", r.student, stage);
  });
  return sel;
}

async function act(what, student, stage) {
  try { await send("/teacher/" + what, {student, stage: stage || ""}); }
  catch (e) { alert(what + " " + student + ": " + (e.message || e)); }
}

function detail(r, c, cell) {
  document.querySelectorAll(".c.sel").forEach(e => e.classList.remove("sel"));
  if (cell) cell.classList.add("sel");
  const box = document.getElementById("detail");
  const list = c ? [c] : r.checks.filter(x => !x.pass);
  box.replaceChildren(
    el("button", {class: "close", text: "×", onclick: () => { box.hidden = true; }}),
    el("b", {text: r.student + (c ? "" : ": " + (r.total ? r.passed + " of " + r.total + " pass" : "not checked"))}),
    r.error ? el("p", {class: "down", text: r.error}) : null,
    ...list.map(x => el("div", {class: x.pass ? "" : "fail-item"},
      el("div", {class: "what", text: (x.none ? "not checked " : x.pass ? "PASS " : "FAIL ") + x.node + ": " + x.name}),
      x.why ? el("div", {class: "why", text: x.why}) : null,
      x.fix ? el("div", {class: "fix", text: x.fix}) : null)));
  box.hidden = false;
}

function connect() {
  const live = document.getElementById("live");
  const es = new EventSource("/teacher/events");
  es.addEventListener("grid", ev => { rows.clear(); for (const r of JSON.parse(ev.data) || []) rows.set(r.student, r); render(); live.classList.add("on"); });
  es.addEventListener("row", ev => update(JSON.parse(ev.data)));
  es.onerror = () => {
    live.classList.remove("on");
    // A revoked or expired session: back to the login page, not a loop.
    fetch("/teacher/grid", {headers: {"Accept": "application/json"}}).then(r => { if (r.status === 401) location.href = "/login"; }).catch(() => {});
    if (es.readyState === 2) setTimeout(connect, 3000);
  };
}

setInterval(() => document.querySelectorAll("td.activity").forEach(td => { td.textContent = ago(td.dataset.t); }), 15000);
document.addEventListener("keydown", ev => { if (ev.key === "Escape") document.getElementById("detail").hidden = true; });
connect();
})();
