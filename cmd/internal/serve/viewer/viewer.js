// refrecon snapshot viewer: the reference client of the public contract
// (sinks/public/schema). Plain JavaScript, no dependencies, no build step.
// It reads latest.json, the snapshot's cycles.json, leaderboard pages and
// referrer files from the server that served this page, and nothing else.
"use strict";

(function () {
  // ---- The contract's rules, reimplemented (tested against the Go code) ----

  const HEX = "0123456789ABCDEF";
  const MAX_NAME_BYTES = 200;
  const WINDOWS_RESERVED = new Set(["con", "prn", "aux", "nul",
    "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8", "com9",
    "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9"]);

  function keep(c) {
    return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d;
  }

  async function sha256Hex(bytes) {
    if (!(globalThis.crypto && crypto.subtle)) {
      throw new Error("this browser offers no SHA-256 here (crypto.subtle needs https or localhost)");
    }
    const sum = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    return Array.from(sum, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // refcodeFileName is publicjson.RefcodeFileName (README "Referrer file
  // names"): the base name, without ".json", of a refcode's file under
  // referrers/. Async because names over 200 bytes end in a SHA-256.
  async function refcodeFileName(refcode) {
    if (refcode === "") return "~";
    const bytes = new TextEncoder().encode(refcode);
    let name = "";
    let cut = -1; // length of name at the last escape boundary <= 167
    for (const c of bytes) {
      if (name.length <= MAX_NAME_BYTES - 33) cut = name.length;
      name += keep(c) ? String.fromCharCode(c) : "~" + HEX[c >> 4] + HEX[c & 15];
    }
    if (WINDOWS_RESERVED.has(name.toLowerCase())) {
      const c = name.charCodeAt(0);
      name = "~" + HEX[c >> 4] + HEX[c & 15] + name.slice(1);
    }
    if (name.length > MAX_NAME_BYTES) {
      if (name.length <= MAX_NAME_BYTES - 33) cut = name.length;
      name = name.slice(0, cut) + "." + (await sha256Hex(bytes)).slice(0, 32);
    }
    return name;
  }

  // publicRefcode is the refcode as published: one that contains "@" may be
  // an email address and is published as "redacted-" + 12 hex digits of its
  // SHA-256.
  async function publicRefcode(refcode) {
    if (!refcode.includes("@")) return refcode;
    return "redacted-" + (await sha256Hex(new TextEncoder().encode(refcode))).slice(0, 12);
  }

  // Minor-unit exponents that are not 2 (Stripe's zero- and three-decimal
  // currencies).
  const EXPONENT = {
    bif: 0, clp: 0, djf: 0, gnf: 0, jpy: 0, kmf: 0, krw: 0, mga: 0, pyg: 0, rwf: 0, ugx: 0, vnd: 0, vuv: 0, xaf: 0, xof: 0, xpf: 0,
    bhd: 3, jod: 3, kwd: 3, omr: 3, tnd: 3,
  };

  // formatMoney renders {currency, amount} exactly: the amount is a digit
  // string of minor units and never goes through a float.
  function formatMoney(m) {
    if (!m || typeof m.amount !== "string" || !/^(0|[1-9][0-9]*)$/.test(m.amount)) return "?";
    const exp = EXPONENT[m.currency] ?? 2;
    const digits = m.amount.padStart(exp + 1, "0");
    const whole = digits.slice(0, digits.length - exp).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    const frac = exp > 0 ? "." + digits.slice(digits.length - exp) : "";
    return m.currency.toUpperCase() + " " + whole + frac;
  }

  function formatScore(s) {
    return typeof s === "number" ? String(s) : formatMoney(s);
  }

  globalThis.refrecon = { refcodeFileName, publicRefcode, formatMoney };

  // ---- The page ----

  const $ = (sel) => document.querySelector(sel);
  const state = { snapshotPath: "", cycles: [], cycle: "", page: 1 };

  async function getJSON(path) {
    const res = await fetch(path, { headers: { Accept: "application/json" } });
    if (res.status === 404) return null;
    if (!res.ok) throw new Error(path + ": HTTP " + res.status);
    return res.json();
  }

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function showError(msg) {
    const e = $("#error");
    e.textContent = msg;
    e.hidden = !msg;
  }

  function adminText(a) {
    return a ? a.actionType + ": " + a.reason : "";
  }

  async function loadSnapshot() {
    const latest = await getJSON("latest.json");
    if (!latest) {
      $("#snapshot").textContent = "Nothing published yet: there is no latest.json. Run refrecon run first.";
      document.body.dataset.state = "empty";
      return;
    }
    state.snapshotPath = latest.path;
    const cycles = await getJSON(latest.path + "cycles.json");
    if (!cycles) throw new Error("snapshot " + latest.snapshotId + " has no cycles.json");
    $("#snapshot").textContent = "Snapshot " + cycles.snapshotId + ", as of " + cycles.asOf +
      " — " + cycles.cycles.length + (cycles.cycles.length === 1 ? " cycle" : " cycles");
    state.cycles = cycles.cycles;
    const body = $("#cycles tbody");
    body.replaceChildren();
    for (const c of cycles.cycles) {
      const tr = document.createElement("tr");
      tr.dataset.cycle = c.id;
      const name = cell(tr, "");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "link";
      b.textContent = c.displayName;
      b.title = c.id;
      name.appendChild(b);
      const st = document.createElement("span");
      st.className = "status";
      st.textContent = c.status;
      cell(tr, "").appendChild(st);
      cell(tr, c.rules.awardModel + (c.rules.scoreBy ? " by " + c.rules.scoreBy : ""));
      cell(tr, c.rules.startTime.slice(0, 10) + " – " + c.rules.endTime.slice(0, 10)).title = c.rules.startTime + " – " + c.rules.endTime + " (both inclusive)";
      cell(tr, formatMoney(c.rules.awardPool), "num");
      cell(tr, formatMoney(c.totals.awarded), "num");
      cell(tr, formatMoney(c.awardPoolRemaining), "num");
      cell(tr, c.isFinal ? "yes" : "no").title = "settles " + c.settlesAt;
      tr.addEventListener("click", () => selectCycle(c.id, 1).catch((e) => showError(e.message)));
      body.appendChild(tr);
    }
    // A link may name a cycle and page: #cycle=<id>&page=<n>.
    const want = new URLSearchParams(location.hash.slice(1));
    const linked = cycles.cycles.find((c) => c.id === want.get("cycle"));
    const page = Math.max(1, parseInt(want.get("page") || "1", 10) || 1);
    if (linked) {
      await selectCycle(linked.id, page).catch(() => selectCycle(linked.id, 1));
    } else if (cycles.cycles.length > 0) {
      await selectCycle(cycles.cycles[0].id, 1);
    }
    document.body.dataset.state = "ready";
  }

  async function selectCycle(id, page) {
    const c = state.cycles.find((x) => x.id === id);
    const doc = await getJSON(state.snapshotPath + "cycles/" + id + "/leaderboard/" + page + ".json");
    if (!doc) throw new Error("cycle " + id + " has no leaderboard page " + page);
    state.cycle = id;
    state.page = page;
    for (const tr of document.querySelectorAll("#cycles tbody tr")) {
      tr.classList.toggle("selected", tr.dataset.cycle === id);
    }
    $("#leaderboard-section").hidden = false;
    $("#leaderboard-title").textContent = "Leaderboard: " + (c ? c.displayName : id);
    $("#leaderboard-status").textContent = "Status " + doc.status + (doc.settledFrom ? ", settled from snapshot " + doc.settledFrom : "");
    const body = $("#leaderboard tbody");
    body.replaceChildren();
    for (const e of doc.entries) {
      const tr = document.createElement("tr");
      tr.dataset.refcode = e.refcode;
      cell(tr, String(e.rank), "num");
      cell(tr, e.refcode);
      cell(tr, formatScore(e.score), "num");
      cell(tr, String(e.referrals), "num");
      cell(tr, String(e.conversions) + (e.pendingConversions ? " (" + e.pendingConversions + " pending)" : ""), "num");
      cell(tr, formatMoney(e.revenue), "num");
      cell(tr, e.qualified ? "yes" : "no");
      cell(tr, formatMoney(e.award), "num");
      cell(tr, adminText(e.adminAction));
      body.appendChild(tr);
    }
    if (doc.entries.length === 0) {
      const tr = document.createElement("tr");
      cell(tr, "No ranked referrers yet.").colSpan = 9;
      body.appendChild(tr);
    }
    const pc = doc.pageContext;
    $("#page-info").textContent = "Page " + pc.page + " of " + pc.totalPages + " (" + pc.totalRecords + " ranked)";
    $("#prev").disabled = !pc.hasPrev;
    $("#next").disabled = !pc.hasNext;
    $("#leaderboard").dataset.cycle = id;
    $("#leaderboard").dataset.page = String(pc.page);
    history.replaceState(null, "", "#cycle=" + encodeURIComponent(id) + "&page=" + pc.page);
    showError("");
  }

  async function lookup(refcode) {
    const out = $("#referrer-file");
    const table = $("#referrer");
    table.hidden = true;
    const name = await refcodeFileName(await publicRefcode(refcode));
    const path = state.snapshotPath + "referrers/" + name + ".json";
    const doc = await getJSON(path);
    table.dataset.refcode = refcode;
    if (!doc) {
      out.textContent = "No referrer with refcode " + JSON.stringify(refcode) + " in this snapshot (" + path + ").";
      table.dataset.found = "no";
      return;
    }
    out.textContent = "Referrer " + doc.refcode + " (" + path + ")";
    const body = $("#referrer tbody");
    body.replaceChildren();
    for (const c of state.cycles.map((x) => x.id).concat(Object.keys(doc.cycles).filter((id) => !state.cycles.some((x) => x.id === id)))) {
      const r = doc.cycles[c];
      if (!r) continue;
      const tr = document.createElement("tr");
      tr.dataset.cycle = c;
      cell(tr, c);
      cell(tr, r.type);
      cell(tr, r.rank === null ? "—" : String(r.rank), "num");
      cell(tr, formatScore(r.score), "num");
      cell(tr, String(r.conversions), "num");
      cell(tr, formatMoney(r.revenue), "num");
      cell(tr, r.qualified ? "yes" : "no");
      cell(tr, formatMoney(r.award), "num");
      cell(tr, adminText(r.adminAction));
      body.appendChild(tr);
    }
    table.hidden = false;
    table.dataset.found = "yes";
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("#prev").addEventListener("click", () => selectCycle(state.cycle, state.page - 1).catch((e) => showError(e.message)));
    $("#next").addEventListener("click", () => selectCycle(state.cycle, state.page + 1).catch((e) => showError(e.message)));
    $("#lookup").addEventListener("submit", (ev) => {
      ev.preventDefault();
      lookup($("#refcode").value).catch((e) => showError(e.message));
    });
    loadSnapshot().catch((e) => {
      showError(e.message);
      document.body.dataset.state = "error";
    });
  });
})();
