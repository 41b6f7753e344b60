// The virtual phone's page: it lists the server-side devices, enrolls one
// with an access token, and polls the selected device's inbox every
// second. The devices' keys stay on the server; the page only asks it to
// approve or deny. Text from the server is set as text, never as HTML.
"use strict";

const api = "/phone/api/devices";
let selected = "";
let skew = 0; // server time minus browser time, in ms
let polling = false;
const rows = new Map(); // challenge SID -> its <li>

function $(id) { return document.getElementById(id); }

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

async function call(method, url, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(url, init);
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.message || "HTTP " + r.status);
  return data;
}

function say(id, text, error) {
  const s = $(id);
  s.textContent = text;
  s.classList.toggle("error", !!error);
}

async function loadDevices() {
  const devices = await call("GET", api);
  const list = $("devices");
  list.replaceChildren();
  $("no-devices").hidden = devices.length > 0;
  if (!selected && devices.length > 0) selected = devices[0].factor_sid;
  for (const d of devices) {
    const b = el("button", "device");
    b.type = "button";
    b.dataset.factor = d.factor_sid;
    b.setAttribute("aria-pressed", String(d.factor_sid === selected));
    b.append(el("strong", "", d.friendly_name), el("span", "", d.identity), el("span", "badge " + d.status, d.status),
      el("span", "sid", d.factor_sid));
    b.addEventListener("click", () => select(d.factor_sid));
    list.append(b);
  }
  if (selected) select(selected);
}

function select(sid) {
  if (sid !== selected) {
    rows.clear();
    $("inbox").replaceChildren();
  }
  selected = sid;
  for (const b of document.querySelectorAll(".device")) {
    b.setAttribute("aria-pressed", String(b.dataset.factor === sid));
    if (b.dataset.factor === sid) $("inbox-who").textContent = "· " + b.querySelector("span").textContent;
  }
  $("inbox-card").hidden = false;
  poll();
}

async function poll() {
  if (!selected || polling) return;
  polling = true;
  const sid = selected;
  try {
    const box = await call("GET", api + "/" + sid + "/inbox");
    // Another device was selected meanwhile: this inbox is not its.
    if (sid !== selected) return;
    skew = Date.parse(box.now) - Date.now();
    render(box.items);
    say("inbox-status", "");
  } catch (e) {
    if (sid === selected) say("inbox-status", "Inbox: " + e.message, true);
  } finally {
    polling = false;
    if (sid !== selected) poll();
  }
}

function render(items) {
  const list = $("inbox");
  $("no-challenges").hidden = items.length > 0;
  const seen = new Set();
  items.forEach((c, i) => {
    seen.add(c.sid);
    let li = rows.get(c.sid);
    if (!li) {
      li = build(c);
      rows.set(c.sid, li);
    }
    li.dataset.expires = c.expiration_date;
    li.querySelector(".pushed").textContent = c.pushed_at ? "pushed " + new Date(c.pushed_at).toLocaleTimeString() : "no push";
    setStatus(li, c.status);
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
  });
  for (const [sid, li] of rows) {
    if (!seen.has(sid)) { li.remove(); rows.delete(sid); }
  }
  tick();
}

function build(c) {
  const li = el("li", "challenge");
  li.dataset.sid = c.sid;
  li.append(el("p", "message", c.message));
  if (c.fields.length > 0) {
    const dl = el("dl");
    for (const f of c.fields) dl.append(el("dt", "", f.label), el("dd", "", f.value));
    li.append(dl);
  }
  const meta = el("div", "meta");
  meta.append(el("span", "badge"), el("span", "countdown"), el("span", "pushed"), el("span", "sid", c.sid));
  li.append(meta);
  const actions = el("div", "actions");
  const approve = el("button", "approve", "Approve");
  const deny = el("button", "deny", "Deny");
  approve.type = deny.type = "button";
  approve.addEventListener("click", () => answer(li, "approve"));
  deny.addEventListener("click", () => answer(li, "deny"));
  actions.append(approve, deny);
  li.append(actions);
  return li;
}

function setStatus(li, status) {
  if (li.dataset.status === status) return;
  li.dataset.status = status;
  const badge = li.querySelector(".badge");
  badge.className = "badge " + status;
  badge.textContent = status;
  const actions = li.querySelector(".actions");
  if (status !== "pending" && actions) actions.remove();
}

// tick counts pending challenges down, and shows one expired as soon as
// its time is up, before the next poll says so.
function tick() {
  const now = Date.now() + skew;
  for (const li of rows.values()) {
    const left = Math.ceil((Date.parse(li.dataset.expires) - now) / 1000);
    const cd = li.querySelector(".countdown");
    if (li.dataset.status !== "pending") {
      cd.textContent = "";
    } else if (left <= 0) {
      setStatus(li, "expired");
      cd.textContent = "";
    } else {
      cd.textContent = "expires in " + (left >= 60 ? Math.floor(left / 60) + " min " + (left % 60) + " s" : left + " s");
    }
  }
}

async function answer(li, action) {
  for (const b of li.querySelectorAll(".actions button")) b.disabled = true;
  try {
    const c = await call("POST", api + "/" + selected + "/challenges/" + li.dataset.sid + "/" + action, {});
    setStatus(li, c.status);
    say("inbox-status", "");
  } catch (e) {
    for (const b of li.querySelectorAll(".actions button")) b.disabled = false;
    say("inbox-status", action + ": " + e.message, true);
  }
  poll();
}

async function enroll(ev) {
  ev.preventDefault();
  const button = $("enroll-button");
  button.disabled = true;
  say("enroll-status", "Enrolling…");
  try {
    const d = await call("POST", api, { token: $("token").value, friendly_name: $("name").value });
    $("token").value = "";
    say("enroll-status", "Enrolled " + d.factor_sid + " for " + d.identity + ": " + d.status + ".");
    selected = d.factor_sid;
    await loadDevices();
  } catch (e) {
    say("enroll-status", "Enroll: " + e.message, true);
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("enroll-form").addEventListener("submit", enroll);
  loadDevices().catch((e) => say("enroll-status", "Devices: " + e.message, true));
  setInterval(() => { poll(); tick(); }, 1000);
});
