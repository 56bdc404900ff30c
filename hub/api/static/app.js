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
}

async function resend(deliveryId, then) {
  try {
    const r = await post(`/bridge/deliveries/${encodeURIComponent(deliveryId)}/resend`, {});
    notice(`Leveransen skickas igen med samma idempotensnyckel (${r.idempotency_key.slice(0, 8)}…).`);
  } catch (e) { notice(e.message); }
  then();
}

// ── Leveranser (bryggan) ─────────────────────────────────────────────────────────────────────
async function loadBridge() {
  const view = await api("/bridge");
  $("#stuck-after").textContent = duration(view.stuck_after_seconds);
  const cards = $("#bridge-systems");
  cards.replaceChildren();
  const ubody = $("#bridge-units tbody");
  ubody.replaceChildren();
  for (const s of view.systems) {
    const card = document.createElement("div");
    card.className = `card circuit-${s.circuit}`;
    const h = document.createElement("h4"); h.textContent = s.system === "lifecare" ? "LifeCare" : s.system === "prator" ? "Prator" : s.system;
    const p = document.createElement("p");
    p.textContent = `Krets: ${L("circuit_states", s.circuit)} · väntar ${s.pending} · levererade ${s.delivered} · kvitterade ${s.acknowledged}`
      + ` · i felkön ${s.dead_lettered}${s.oldest_pending_seconds ? ` · äldsta väntande ${duration(s.oldest_pending_seconds)}` : ""}`;
    card.append(h, p);
    cards.appendChild(card);
    for (const u of s.units) {
      const tr = document.createElement("tr");
      unitCell(tr, u.receiver);
      cell(tr, h.textContent);
      cell(tr, String(u.pending), u.pending ? "warn" : ""); cell(tr, String(u.delivered)); cell(tr, String(u.acknowledged));
      cell(tr, String(u.dead_lettered), u.dead_lettered ? "bad" : ""); cell(tr, duration(u.oldest_pending_seconds));
      ubody.appendChild(tr);
    }
  }
  if (!["ops_admin", "region"].includes(state.me.role)) return;
  const status = $("#bridge-status").value;
  const rows = await api(`/bridge/deliveries?limit=100${status ? `&status=${status}` : ""}`);
  const body = $("#bridge-deliveries tbody");
  body.replaceChildren();
  for (const d of rows) {
    const tr = document.createElement("tr");
    tr.dataset.deliveryId = d.delivery_id;
    cell(tr, d.episode_id, "link").addEventListener("click", () => openEpisode(d.episode_id));
    unitCell(tr, d.receiver);
    cell(tr, d.system === "lifecare" ? "LifeCare" : "Prator");
    cell(tr, eventName(`se.svu.${d.message_type}.v1`));
    cell(tr, L("delivery_statuses", d.status), `delivery-${d.status}`);
    cell(tr, when(d.requested_at));
    const actions = cell(tr, "");
    if (state.me.role === "ops_admin") actions.appendChild(button("Skicka igen", "resend", () => resend(d.delivery_id, loadBridge)));
    body.appendChild(tr);
  }
}

// ── Uppföljning ──────────────────────────────────────────────────────────────────────────────
const MEASURES = [
  { name: "Medeldagar som utskrivningsklar (SKR)", unit: "dagar", value: (f) => f.mean_days_ready_skr, weight: (f) => f.episodes_ready_1plus },
  { name: "Medeldagar, alla utskrivningsklara", unit: "dagar", value: (f) => f.mean_days_ready_all, weight: (f) => f.episodes_ready },
  { name: "Kvar ≥ 3 dagar efter utskrivningsklar", unit: "patienter", value: (f) => f.still_3plus_days, sum: true },
  { name: "Utskrivna samma dag som utskrivningsklar", unit: "procent", value: (f) => (f.same_day_share === null ? null : 100 * f.same_day_share), weight: (f) => f.episodes_ready },
  { name: "Betalningsansvar, dagar", unit: "dagar", value: (f) => f.liability_days, sum: true },
  { name: "Betalningsansvar, kronor", unit: "kr", value: (f) => f.liability_amount_sek, sum: true, format: kr },
  { name: "Kvitteringar i tid", unit: "procent", ratio: (f) => [f.kvitteringar_on_time, f.kvitteringar] },
  { name: "Kallelse till SIP i tid", unit: "procent", ratio: (f) => [f.sip_on_time, f.sip_required] },
];

function aggregate(rows, measure) {
  // per (kommun, month): sum, weighted mean or ratio over the care types shown
  const acc = {};
  for (const f of rows) {
    const k = `${f.municipality}|${f.month}`;
    const a = (acc[k] ||= { num: 0, den: 0, sum: 0, seen: false });
    if (measure.ratio) { const [n, d] = measure.ratio(f); a.num += n; a.den += d; a.seen ||= d > 0; }
    else if (measure.sum) { a.sum += measure.value(f) || 0; a.seen = true; }
    else { const v = measure.value(f), w = measure.weight(f); if (v !== null && w) { a.num += v * w; a.den += w; a.seen = true; } }
  }
  const out = {};
  for (const [k, a] of Object.entries(acc)) {
    out[k] = !a.seen ? null : measure.ratio ? (100 * a.num) / a.den : measure.sum ? a.sum : a.num / a.den;
  }
  return out;
}

async function loadStats() {
  const kommun = $("#stats-kommun").value, care = $("#stats-care").value;
  const params = new URLSearchParams();
  if (kommun) params.set("municipality", kommun);
  if (care) params.set("care_type", care);
  $("#stats-csv").href = `/stats.csv?${params}`;
  const [rows, alerts] = await Promise.all([api(`/stats?${params}`), api(`/console/alert-history${kommun ? `?municipality=${kommun}` : ""}`)]);
  const measure = MEASURES[+$("#stats-measure").value || 0];
  const format = measure.format || ((v) => (measure.unit === "procent" ? `${Math.round(v)} %`
    : Number(v).toLocaleString("sv-SE", { maximumFractionDigits: 1 })));
  const values = aggregate(rows, measure);
  const months = [...new Set(rows.map((f) => f.month))].sort();
  const kommuner = [...new Set(rows.map((f) => f.municipality))].sort();
  const series = kommuner.map((k, i) => ({ name: state.names.municipalities[k] || k, color: Charts.PALETTE[i % Charts.PALETTE.length],
    values: months.map((m) => values[`${k}|${m}`] ?? null) }));
  $("#bars-caption").textContent = `${measure.name} – per månad, en stapel per kommun`;
  Charts.groupedBars($("#plot-bars"), { categories: months, series, yLabel: measure.unit, format });
  Charts.legend($("#bars-legend"), series);
  const last12 = months.slice(-12);
  $("#trend-caption").textContent = `${measure.name} – trend de senaste ${last12.length} månaderna per kommun`;
  Charts.lines($("#plot-trend"), { categories: last12, series: series.map((s) => ({ ...s, values: s.values.slice(-12) })).slice(0, 12), yLabel: measure.unit, format });
  const periods = [...new Set(alerts.map((a) => a.period))].sort();
  const rulesSeen = [...new Set(alerts.map((a) => a.rule))].sort();
  const alertSeries = rulesSeen.map((r, i) => ({ name: rule(r).namn, color: Charts.PALETTE[i % Charts.PALETTE.length],
    values: periods.map((p) => alerts.filter((a) => a.period === p && a.rule === r).reduce((s, a) => s + a.raised, 0)) }));
  Charts.stackedBars($("#plot-alerts"), { categories: periods, series: alertSeries, yLabel: "larm" });
  Charts.legend($("#alerts-legend"), alertSeries);
  const body = $("#stats-table tbody");
  body.replaceChildren();
  for (const f of rows) {
    const tr = document.createElement("tr");
    [kommunName(f.municipality), f.month, L("care_types", f.care_type), f.episodes_closed, f.episodes_ready,
      dec(f.mean_days_ready_skr), dec(f.mean_days_ready_all), f.still_3plus_days,
      f.same_day_share === null ? "" : `${Math.round(f.same_day_share * 100)} %`, `${f.liability_days} d`, kr(f.liability_amount_sek),
      f.readmissions_30d, `${f.sip_on_time} av ${f.sip_required}`, `${f.kvitteringar_on_time} av ${f.kvitteringar}`].forEach((v) => cell(tr, String(v)));
    body.appendChild(tr);
  }
}

// ── Felkö ────────────────────────────────────────────────────────────────────────────────────
async function loadDeadLetters() {
  const status = $("#dlq-state").value;
  const rows = await api(`/dead-letters${status ? `?status=${status}` : ""}`);
  const body = $("#dlq-table tbody");
  body.replaceChildren();
  for (const d of rows) {
    const tr = document.createElement("tr");
    tr.dataset.letterId = d.id;
    cell(tr, when(d.received_at)); cell(tr, sourceName(`/${d.source}`) === `/${d.source}` ? d.source : sourceName(`/${d.source}`));
    const reason = cell(tr, "");
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = shortReason(d.reason);
    const pre = document.createElement("pre");
    pre.textContent = d.reason;
    details.append(summary, pre);
    reason.appendChild(details);
    cell(tr, L("dead_letter_statuses", d.status));
    const actions = cell(tr, "");
    if (d.status === "open" && state.me.role === "ops_admin") {
      actions.appendChild(button("Skicka om", "replay", async () => {
        try {
          const [result] = await post("/dead-letters/replay", { ids: [d.id], reason: "omskickat från driftvyn" });
          $("#dlq-message").textContent = `${d.id}: ${result.accepted ? "togs emot" : `avvisades igen – ${shortReason(result.outcome)}`}`;
        } catch (e) { $("#dlq-message").textContent = `${d.id}: ${e.message}`; }
        loadDeadLetters();
      }));
      actions.appendChild(button("Kassera", "discard", async () => {
        try {
          await post(`/dead-letters/${encodeURIComponent(d.id)}/discard`, { reason: "kasserat från driftvyn" });
          $("#dlq-message").textContent = `${d.id}: kasserat`;
        } catch (e) { $("#dlq-message").textContent = `${d.id}: ${e.message}`; }
        loadDeadLetters();
      }));
    }
    body.appendChild(tr);
  }
  $("#dlq-count").textContent = `${rows.length} meddelanden`;
}

// ── Källor ───────────────────────────────────────────────────────────────────────────────────
async function loadSources() {
  const body = $("#rule-table tbody");
  body.replaceChildren();
  for (const r of Object.values(state.labels.rules)) {
    const tr = document.createElement("tr");
    cell(tr, r.namn); cell(tr, r.forklaring); cell(tr, r.kalla);
    body.appendChild(tr);
  }
  $("#sources-text").textContent = await api("/console/sources");
}

const loaders = { alerts: loadAlerts, episodes: loadEpisodes, episode: loadEpisode, bridge: loadBridge, stats: loadStats,
  dlq: loadDeadLetters, sources: loadSources };

function showTab(name) {
  document.querySelectorAll("nav button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.id === name));
}

async function refresh(force = false) {
  const active = document.querySelector(".tab.active").id;
  if (!state.key) return;
  if (!force && ["episode", "episodes", "sources"].includes(active)) return;  // no refresh under the reader's eyes
  try { await loadBasics(); await loaders[active](); notice(""); }
  catch (error) { notice(error.message); if (error.status === 401) state.labels = null; }
}

document.querySelectorAll("nav button").forEach((b) => b.addEventListener("click", () => { showTab(b.dataset.tab); refresh(true); }));
$("#login").addEventListener("submit", (e) => {
  e.preventDefault(); state.key = $("#key").value.trim(); state.labels = null; sessionStorage.setItem("svu-key", state.key); refresh(true);
});
$("#episode-form").addEventListener("submit", (e) => { e.preventDefault(); openEpisode($("#episode-id").value.trim()); });
$("#episode-filters").addEventListener("submit", (e) => { e.preventDefault(); state.page = 1; refresh(true); });
$("#search-form").addEventListener("submit", (e) => { e.preventDefault(); search().catch((err) => { $("#search-result").textContent = err.message; }); });
$("#ep-prev").addEventListener("click", () => { state.page = Math.max(1, state.page - 1); refresh(true); });
$("#ep-next").addEventListener("click", () => { state.page += 1; refresh(true); });
["#alert-state", "#alert-rule", "#alert-kommun", "#dlq-state", "#stats-measure", "#stats-kommun", "#stats-care", "#bridge-status"]
  .forEach((id) => $(id).addEventListener("change", () => refresh(true)));
if (state.key) $("#key").value = state.key;
const fromHash = /^#vardtillfalle=(.+)$/.exec(location.hash);
if (fromHash && state.key) loadBasics().then(() => openEpisode(decodeURIComponent(fromHash[1]))).catch((e) => notice(e.message));
setInterval(refresh, 5000);
refresh(true);
