// svu-hub console, the remaining views: deliveries (the bridge), follow-up plots, dead letters, sources.
"use strict";

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

