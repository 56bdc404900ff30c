// svu-hub dashboard: plain JavaScript over the ops API. The key lives in sessionStorage only.
"use strict";
const $ = (sel) => document.querySelector(sel);
const state = { key: sessionStorage.getItem("svu-key") || "" };

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.key}`, ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(`${response.status}: ${JSON.stringify(body.detail || body)}`);
  }
  return response.headers.get("content-type")?.includes("json") ? response.json() : response.text();
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString("sv-SE", { timeZone: "Europe/Stockholm" }) : "";
}

async function loadAlerts() {
  const params = new URLSearchParams();
  for (const [name, id] of [["state", "#alert-state"], ["rule", "#alert-rule"], ["municipality", "#alert-kommun"]]) {
    const value = $(id).value.trim();
    if (value) params.set(name, value);
  }
  const rows = await api(`/alerts?${params}`);
  const body = $("#alert-table tbody");
  body.replaceChildren();
  for (const a of rows) {
    const tr = document.createElement("tr");
    tr.className = `level-${a.level}`;
    tr.dataset.alertId = a.alert_id;
    cell(tr, a.level);
    cell(tr, a.rule);
    const ep = cell(tr, a.episode_id);
    ep.style.cursor = "pointer";
    ep.onclick = () => { $("#episode-id").value = a.episode_id; showTab("episode"); loadEpisode(); };
    cell(tr, a.responsible_unit);
    cell(tr, a.municipality);
    cell(tr, when(a.deadline));
    cell(tr, a.state === "open" ? (a.acknowledged_by ? `hanteras (${a.acknowledged_by})` : "öppet") : `åtgärdat ${when(a.resolved_at)}`);
    const actions = cell(tr, "");
    if (a.state === "open" && !a.acknowledged_by) {
      const button = document.createElement("button");
      button.textContent = "Kvittera";
      button.onclick = async () => { await api(`/alerts/${encodeURIComponent(a.alert_id)}/acknowledge`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" }); loadAlerts(); };
      actions.appendChild(button);
    }
    body.appendChild(tr);
  }
  $("#alert-count").textContent = `${rows.length} larm`;
}

function barPlot(svg, points, label) {
  svg.replaceChildren();
  const ns = "http://www.w3.org/2000/svg";
  const width = +svg.getAttribute("width"), height = +svg.getAttribute("height"), pad = 28;
  const max = Math.max(1, ...points.map((p) => p.value));
  const step = (width - pad) / Math.max(1, points.length);
  points.forEach((p, i) => {
    const h = ((height - 2 * pad) * p.value) / max;
    const rect = document.createElementNS(ns, "rect");
    rect.setAttribute("x", pad + i * step + 2);
    rect.setAttribute("y", height - pad - h);
    rect.setAttribute("width", Math.max(2, step - 4));
    rect.setAttribute("height", h);
    rect.setAttribute("fill", "#1d3a5f");
    const title = document.createElementNS(ns, "title");
    title.textContent = `${p.label}: ${p.value} ${label}`;
    rect.appendChild(title);
    svg.appendChild(rect);
    const text = document.createElementNS(ns, "text");
    text.setAttribute("x", pad + i * step + 2);
    text.setAttribute("y", height - pad + 12);
    text.textContent = p.label;
    svg.appendChild(text);
  });
  const axis = document.createElementNS(ns, "text");
  axis.setAttribute("x", 2); axis.setAttribute("y", pad - 8);
  axis.textContent = `max ${max.toFixed(1)} ${label}`;
  svg.appendChild(axis);
}

async function loadStats() {
  const kommun = $("#stats-kommun").value.trim();
  const query = kommun ? `?municipality=${encodeURIComponent(kommun)}` : "";
  $("#stats-csv").href = `/stats.csv${query}`;
  const rows = await api(`/stats${query}`);
  const body = $("#stats-table tbody");
  body.replaceChildren();
  const byMonth = {};
  for (const f of rows) {
    const tr = document.createElement("tr");
    [f.municipality, f.month, f.care_type, f.episodes_closed, f.episodes_ready, f.mean_days_ready_skr,
     f.mean_days_ready_all, f.still_3plus_days, f.same_day_share === null ? "" : `${Math.round(f.same_day_share * 100)} %`,
     f.liability_days, f.liability_amount_sek, f.readmissions_30d, `${f.sip_on_time}/${f.sip_required}`,
     `${f.kvitteringar_on_time}/${f.kvitteringar}`].forEach((v) => cell(tr, v));
    body.appendChild(tr);
    const m = (byMonth[f.month] ||= { days: 0, ready: 0, liability: 0 });
    m.days += (f.mean_days_ready_all || 0) * f.episodes_ready;
    m.ready += f.episodes_ready;
    m.liability += f.liability_days;
  }
  const months = Object.keys(byMonth).sort();
  barPlot($("#plot-days"), months.map((m) => ({ label: m, value: byMonth[m].ready ? +(byMonth[m].days / byMonth[m].ready).toFixed(1) : 0 })), "dagar");
  barPlot($("#plot-liability"), months.map((m) => ({ label: m, value: byMonth[m].liability })), "dagar");
}

async function loadEpisode() {
  const id = $("#episode-id").value.trim();
  if (!id) return;
  const [episode, timeline] = await Promise.all([api(`/episodes/${encodeURIComponent(id)}`), api(`/episodes/${encodeURIComponent(id)}/timeline`)]);
  $("#episode-summary").textContent = `Kategori ${episode.category ?? "okänd"} · kommun ${episode.municipality ?? ""} · ${episode.care_type} · betalningsansvar ${episode.liability.days} dagar (${episode.liability.amount_sek} kr)`;
  const body = $("#deadline-table tbody");
  body.replaceChildren();
  for (const d of episode.deadlines) {
    const tr = document.createElement("tr");
    cell(tr, d.rule); cell(tr, d.target); cell(tr, when(d.due));
    cell(tr, d.outcome, `outcome-${d.outcome}`);
    cell(tr, d.lateness_seconds ? (d.lateness_seconds / 3600).toFixed(1) : "");
    cell(tr, d.source);
    body.appendChild(tr);
  }
  const list = $("#timeline");
  list.replaceChildren();
  for (const e of timeline.entries) {
    const li = document.createElement("li");
    li.textContent = `${when(e.time)} · ${e.type.replace("se.svu.", "")} · ${e.source}`;
    list.appendChild(li);
  }
}

async function loadDeadLetters() {
  const status = $("#dlq-state").value;
  const rows = await api(`/dead-letters${status ? `?status=${status}` : ""}`);
  const body = $("#dlq-table tbody");
  body.replaceChildren();
  for (const d of rows) {
    const tr = document.createElement("tr");
    tr.dataset.letterId = d.id;
    cell(tr, when(d.received_at)); cell(tr, d.source); cell(tr, d.reason); cell(tr, d.status);
    const actions = cell(tr, "");
    if (d.status === "open") {
      const replay = document.createElement("button");
      replay.textContent = "Skicka om";
      replay.className = "replay";
      replay.onclick = async () => {
        const [result] = await api("/dead-letters/replay", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ ids: [d.id], reason: "omskickat från driftvyn" }) });
        $("#dlq-message").textContent = `${d.id}: ${result.outcome}`;
        loadDeadLetters();
      };
      actions.appendChild(replay);
    }
    body.appendChild(tr);
  }
  $("#dlq-count").textContent = `${rows.length} meddelanden`;
}

const loaders = { alerts: loadAlerts, stats: loadStats, episode: loadEpisode, dlq: loadDeadLetters };

function showTab(name) {
  document.querySelectorAll("nav button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.id === name));
}

async function refresh() {
  const active = document.querySelector(".tab.active").id;
  if (!state.key || active === "episode") return;
  try { await loaders[active](); $("#who").textContent = "inloggad"; }
  catch (error) { $("#who").textContent = error.message; }
}

document.querySelectorAll("nav button").forEach((b) => b.addEventListener("click", () => { showTab(b.dataset.tab); refresh(); }));
$("#login").addEventListener("submit", (e) => { e.preventDefault(); state.key = $("#key").value.trim(); sessionStorage.setItem("svu-key", state.key); refresh(); });
$("#episode-form").addEventListener("submit", (e) => { e.preventDefault(); loadEpisode().catch((err) => { $("#episode-summary").textContent = err.message; }); });
["#alert-state", "#alert-rule", "#alert-kommun"].forEach((id) => $(id).addEventListener("change", refresh));
$("#dlq-state").addEventListener("change", refresh);
$("#stats-load").addEventListener("click", refresh);
if (state.key) $("#key").value = state.key;
setInterval(refresh, 4000);
refresh();
