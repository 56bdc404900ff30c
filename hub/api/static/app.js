// svu-hub console: plain JavaScript over the ops API. The key lives in sessionStorage only.
// Swedish names for rules, statuses, units and kommuner come from /console/labels and /console/names.
"use strict";
const $ = (sel) => document.querySelector(sel);
const state = { key: sessionStorage.getItem("svu-key") || "", me: null, labels: null, names: { units: {}, municipalities: {} },
  page: 1, episodeId: "" };

const ERRORS = {
  401: "Inloggningen gäller inte – kontrollera API-nyckeln.",
  403: "Din roll har inte behörighet till det här.",
  404: "Hittades inte (eller så får du inte se det).",
  409: "Det går inte just nu",
  413: "För stort.",
  422: "Uppgifterna är inte giltiga",
  503: "Hubben kan inte spara just nu – försök igen strax.",
};

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.key}`, ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    const detail = typeof body.detail === "string" ? body.detail : "";
    const text = ERRORS[response.status] || `Fel ${response.status}`;
    const error = new Error(response.status === 409 || response.status === 422 ? `${text}: ${detail}` : text);
    error.status = response.status;
    throw error;
  }
  return response.headers.get("content-type")?.includes("json") ? response.json() : response.text();
}

const post = (path, body) => api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body ?? {}) });

function notice(text) {
  const p = $("#notice");
  p.textContent = text || "";
  p.classList.toggle("hidden", !text);
}

function cell(row, text, cls, title) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (cls) td.className = cls;
  if (title) td.title = title;
  row.appendChild(td);
  return td;
}

function button(text, cls, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  if (cls) b.className = cls;
  b.addEventListener("click", onClick);
  return b;
}

const STHLM = { timeZone: "Europe/Stockholm" };
function when(iso) {
  return iso ? new Date(iso).toLocaleString("sv-SE", { ...STHLM, dateStyle: "short", timeStyle: "short" }) : "";
}
function day(iso) { return iso ? new Date(iso).toLocaleDateString("sv-SE", STHLM) : ""; }
function dec(v) { return v === null || v === undefined ? "" : Number(v).toLocaleString("sv-SE", { maximumFractionDigits: 1 }); }
function kr(n) { return `${Math.round(n || 0).toLocaleString("sv-SE").replace(/\u00a0/g, " ")} kr`; }
function duration(seconds) {
  if (!seconds) return "";
  const m = Math.round(seconds / 60), d = Math.floor(m / 1440), h = Math.floor((m % 1440) / 60), mm = m % 60;
  return [d ? `${d} d` : "", h ? `${h} h` : "", !d && mm ? `${mm} min` : ""].filter(Boolean).join(" ") || "0 min";
}

const L = (group, code) => (state.labels && state.labels[group] && state.labels[group][code]) || code || "";
function rule(code) {
  const r = state.labels?.rules?.[code];
  if (r) return r;
  if (code?.startsWith("sip_meeting_")) return { namn: "SIP-möte", forklaring: "SIP-mötet enligt färgspåret.", kalla: "Färgspår (S2)" };
  return { namn: "Annan regel", forklaring: "", kalla: "" };
}
function unitName(hsa) { return hsa && hsa !== "-" ? state.names.units[hsa] || hsa : ""; }
function kommunName(code) {
  if (!code || code === "-") return "";
  const name = state.names.municipalities[code];
  return name ? `${name} (${code})` : code;
}
function unitCell(row, hsa) { return cell(row, unitName(hsa), "", hsa && state.names.units[hsa] ? `HSA-id ${hsa}` : ""); }
function eventName(type) { return L("events", (type || "").split(".")[2]); }
function sourceName(source) {
  const prefix = Object.keys(state.labels?.sources || {}).find((p) => (source || "").startsWith(p));
  return prefix ? state.labels.sources[prefix] : source;
}
function shortReason(reason) {
  const low = (reason || "").toLowerCase();
  const hit = (state.labels?.dead_letter_reasons || []).find(([pattern]) => low.includes(pattern));
  return hit ? hit[1] : state.labels?.default_reason || reason;
}

function fillSelect(select, entries, keepFirst = true) {
  const first = keepFirst ? select.options[0] : null;
  select.replaceChildren(...(first ? [first] : []));
  for (const [value, text] of entries) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    select.appendChild(o);
  }
}

async function loadBasics() {
  if (state.labels) return;
  [state.me, state.labels, state.names] = await Promise.all([api("/console/me"), api("/console/labels"), api("/console/names")]);
  $("#who").textContent = `${state.me.name} · ${({ ops_admin: "drift", region: "region", kommun: "kommun", dashboard: "översikt" })[state.me.role] || state.me.role}`;
  document.querySelectorAll("nav button[data-needs='ops']").forEach((b) => b.classList.toggle("hidden", !["ops_admin", "region"].includes(state.me.role)));
  const codes = state.me.municipality ? [state.me.municipality] : state.names.county;
  const kommuner = codes.map((c) => [c, `${state.names.municipalities[c] || c} (${c})`]);
  document.querySelectorAll(".kommun-select").forEach((s) => fillSelect(s, kommuner));
  fillSelect($("#alert-rule"), Object.entries(state.labels.rules).map(([c, r]) => [c, r.namn]));
  const units = Object.entries(state.names.units).sort((a, b) => a[1].localeCompare(b[1], "sv"));
  fillSelect($("#ep-ward"), units.filter(([, n]) => /avdelning/i.test(n)));
  fillSelect($("#ep-unit"), units.filter(([, n]) => !/avdelning/i.test(n)));
  const legend = $("#level-legend");
  legend.replaceChildren();
  for (const [level, l] of Object.entries(state.labels.levels)) {
    const dt = document.createElement("dt"); dt.textContent = l.namn; dt.className = `level-${level}`;
    const dd = document.createElement("dd"); dd.textContent = l.forklaring;
    legend.append(dt, dd);
  }
  fillSelect($("#stats-measure"), MEASURES.map((m, i) => [i, m.name]), false);
}

// ── Larm ─────────────────────────────────────────────────────────────────────────────────────
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
    cell(tr, String(a.level), "level", state.labels.levels[a.level]?.forklaring);
    const r = rule(a.rule);
    cell(tr, r.namn, "", `${r.forklaring} Källa: ${r.kalla}`);
    const ep = cell(tr, a.episode_id.startsWith("bridge-") ? "—" : a.episode_id, a.episode_id.startsWith("bridge-") ? "" : "link");
    if (!a.episode_id.startsWith("bridge-")) ep.addEventListener("click", () => openEpisode(a.episode_id));
    unitCell(tr, a.responsible_unit);
    cell(tr, kommunName(a.municipality));
    cell(tr, when(a.deadline));
    const status = a.state === "open"
      ? (a.acknowledged_by ? `Någon tar hand om det (${a.acknowledged_by})` : L("alert_states", "open"))
      : `${L("alert_states", "resolved")} ${when(a.resolved_at)}${a.lateness_seconds ? `, ${duration(a.lateness_seconds)} sent` : ""}`;
    cell(tr, status);
    const actions = cell(tr, "");
    if (a.state === "open" && !a.acknowledged_by && state.me.sees_patient_data) {
      actions.appendChild(button("Ta ansvar", "take", async () => {
        await post(`/alerts/${encodeURIComponent(a.alert_id)}/acknowledge`, {}).catch((e) => notice(e.message));
        loadAlerts();
      }));
    }
    body.appendChild(tr);
  }
  $("#alert-count").textContent = `${rows.length} larm`;
}

// ── Vårdtillfällen ───────────────────────────────────────────────────────────────────────────
async function loadEpisodes() {
  const params = new URLSearchParams({ page: state.page, page_size: 25 });
  for (const [name, id] of [["municipality", "#ep-kommun"], ["ward", "#ep-ward"], ["unit", "#ep-unit"], ["status", "#ep-status"],
    ["category", "#ep-category"], ["admitted_from", "#ep-from"], ["admitted_to", "#ep-to"]]) {
    if ($(id).value) params.set(name, $(id).value);
  }
  if ($("#ep-open").checked) params.set("open_alerts", "true");
  const page = await api(`/console/episodes?${params}`);
  const body = $("#episode-table tbody");
  body.replaceChildren();
  for (const e of page.items) {
    const tr = document.createElement("tr");
    tr.dataset.episodeId = e.episode_id;
    cell(tr, e.episode_id, "link").addEventListener("click", () => openEpisode(e.episode_id));
    cell(tr, kommunName(e.municipality));
    unitCell(tr, e.ward);
    cell(tr, L("episode_statuses", e.status));
    cell(tr, e.category || "okänd");
    cell(tr, L("care_types", e.care_type));
    cell(tr, when(e.admitted_at)); cell(tr, when(e.ready_at)); cell(tr, when(e.discharged_at));
    cell(tr, e.open_alerts ? String(e.open_alerts) : "", e.open_alerts ? "warn" : "");
    body.appendChild(tr);
  }
  const pages = Math.max(1, Math.ceil(page.total / page.page_size));
  $("#ep-page").textContent = `Sida ${page.page} av ${pages} · ${page.total} vårdtillfällen`;
  $("#ep-prev").disabled = page.page <= 1;
  $("#ep-next").disabled = page.page >= pages;
}

async function search() {
  const kind = $("#search-kind").value, value = $("#search-value").value.trim();
  if (!value) return;
  const { hits } = await post("/console/search", { kind, value });
  if (kind === "personnummer") $("#search-value").value = "";  // never left on screen
  $("#search-result").textContent = hits.length ? `${hits.length} träff${hits.length > 1 ? "ar" : ""}` : "Ingen träff";
  const body = $("#episode-table tbody");
  body.replaceChildren();
  for (const h of hits) {
    const tr = document.createElement("tr");
    tr.dataset.episodeId = h.episode_id;
    cell(tr, h.episode_id, "link").addEventListener("click", () => openEpisode(h.episode_id));
    const td = cell(tr, `Träff på ${({ episode_id: "vårdtillfälle", source_message_id: "meddelande-id", msh10: "MSH-10", personnummer: "personnummer" })[h.matched]}`);
    td.colSpan = 9;
    for (const smid of h.source_message_ids) {
      td.appendChild(document.createTextNode(" · "));
      const a = document.createElement("a"); a.href = "#"; a.textContent = smid;
      a.addEventListener("click", (ev) => { ev.preventDefault(); openEpisode(h.episode_id).then(() => showLineage(smid)); });
      td.appendChild(a);
    }
    body.appendChild(tr);
  }
}

// ── Vårdtillfälle ────────────────────────────────────────────────────────────────────────────
async function openEpisode(id) {
  $("#episode-id").value = id;
  showTab("episode");
  history.replaceState(null, "", `#vardtillfalle=${encodeURIComponent(id)}`);
  await loadEpisode().catch((e) => { $("#episode-summary").textContent = e.message; });
}

const ANCHOR = { admission_notice: "admitted_at", kvittering: "admitted_at", care_contact: "admitted_at",
  notice_update_after_transfer: "admitted_at", planning_basis_stale: "admitted_at", planning_basis_outdated_date: "admitted_at" };

async function loadEpisode() {
  const id = $("#episode-id").value.trim();
  if (!id) return;
  state.episodeId = id;
  const enc = encodeURIComponent(id);
  const [episode, timeline, deliveries] = await Promise.all([api(`/episodes/${enc}`), api(`/episodes/${enc}/timeline`),
    api(`/episodes/${enc}/deliveries`)]);
  const liability = episode.liability.applies || episode.liability.days
    ? `${episode.liability.days} dagar, ${kr(episode.liability.amount_sek)}` : "inget";
  $("#episode-summary").textContent = `Kategori ${episode.category ?? "okänd"} · ${kommunName(episode.municipality)} · `
    + `${L("care_types", episode.care_type)} · inskriven ${when(episode.admitted_at)}`
    + `${episode.ready_at ? ` · utskrivningsklar ${when(episode.ready_at)}` : ""}`
    + `${episode.discharged_at ? ` · utskriven ${when(episode.discharged_at)}` : ""} · betalningsansvar ${liability}`;
  const body = $("#deadline-table tbody");
  body.replaceChildren();
  for (const d of episode.deadlines) {
    const tr = document.createElement("tr");
    const r = rule(d.rule);
    cell(tr, r.namn, "", r.forklaring);
    if (/^SE/.test(d.target)) unitCell(tr, d.target); else cell(tr, d.target === "-" ? "" : d.target.match(/^\d{4}$/) ? kommunName(d.target) : "");
    cell(tr, when(d.due));
    cell(tr, L("outcomes", d.outcome), `outcome-${d.outcome}`);
    cell(tr, d.lateness_seconds ? duration(d.lateness_seconds) : "");
    cell(tr, r.kalla, "muted", d.source);
    body.appendChild(tr);
  }
  const t = (iso) => (iso ? new Date(iso).getTime() : NaN);
  const spans = episode.deadlines.map((d) => {
    const anchor = episode[ANCHOR[d.rule] || "ready_at"] || episode.admitted_at;
    const end = t(d.due);
    let start = t(anchor);
    if (Number.isNaN(start) || start >= end) start = end - 3600e3;
    return { label: rule(d.rule).namn, start, end, outcome: d.outcome, outcomeText: L("outcomes", d.outcome), met: d.met_at ? t(d.met_at) : null };
  });
  Charts.timeline($("#episode-timeline"), {
    events: timeline.entries.map((e) => ({ t: t(e.time), label: `${eventName(e.type)} (${sourceName(e.source)})` })),
    spans, formatTime: (ms) => new Date(ms).toLocaleString("sv-SE", { ...STHLM, month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }),
  });
  Charts.legend($("#timeline-legend"), ["met", "met_late", "missed", "pending"].map((o) => ({ name: L("outcomes", o), color: Charts.OUTCOME[o] })));
  const dbody = $("#delivery-table tbody");
  dbody.replaceChildren();
  for (const d of deliveries) {
    const tr = document.createElement("tr");
    unitCell(tr, d.receiver);
    cell(tr, d.system === "lifecare" ? "LifeCare" : d.system === "prator" ? "Prator" : d.system);
    cell(tr, eventName(`se.svu.${d.message_type}.v1`));
    cell(tr, L("delivery_statuses", d.status), `delivery-${d.status}`);
    cell(tr, when(d.updated_at));
    const actions = cell(tr, "");
    if (state.me.role === "ops_admin") actions.appendChild(button("Skicka igen", "resend", () => resend(d.delivery_id, loadEpisode)));
    dbody.appendChild(tr);
  }
  const ebody = $("#event-table tbody");
  ebody.replaceChildren();
  for (const e of timeline.entries) {
    const tr = document.createElement("tr");
    cell(tr, when(e.time)); cell(tr, eventName(e.type)); cell(tr, sourceName(e.source));
    const td = cell(tr, "");
    td.appendChild(button("Visa vägen", "lineage", () => showLineage(e.source_message_id)));
    ebody.appendChild(tr);
  }
  $("#lineage").classList.add("hidden");
}

async function showLineage(smid) {
  const line = await api(`/console/messages/${encodeURIComponent(smid)}/lineage`);
  const box = $("#lineage-body");
  box.replaceChildren();
  const steps = document.createElement("ol");
  steps.className = "steps";
  const li = (text) => { const x = document.createElement("li"); x.textContent = text; steps.appendChild(x); return x; };
  li(`Mottaget: meddelande ${line.source_message_id}${line.raw ? ` (sparat som ${line.raw.where})` : ""}`);
  for (const e of line.events) li(`Händelse: ${eventName(e.type)} från ${sourceName(e.source)}, ${when(e.time)}`);
  if (!line.deliveries.length) li("Inga leveranser följde av meddelandet.");
  for (const d of line.deliveries) {
    li(`Leverans till ${unitName(d.receiver)} i ${d.system === "lifecare" ? "LifeCare" : "Prator"}: ${L("delivery_statuses", d.status)}`
      + `${d.kvittering_at ? `, kvitterad ${when(d.kvittering_at)}` : ", ingen kvittering ännu"}`);
  }
  box.appendChild(steps);
  $("#lineage-raw-box").classList.toggle("hidden", !line.raw);
  $("#lineage-raw").textContent = line.raw ? (line.raw.text ?? `(binärt, base64) ${line.raw.base64}`).replace(/\r/g, "\n") : "";
  $("#lineage").classList.remove("hidden");
  $("#lineage").scrollIntoView({ block: "start" });
}

async function resend(deliveryId, then) {
  try {
    const r = await post(`/bridge/deliveries/${encodeURIComponent(deliveryId)}/resend`, {});
    notice(`Leveransen skickas igen med samma idempotensnyckel (${r.idempotency_key.slice(0, 8)}…).`);
  } catch (e) { notice(e.message); }
  then();
}

