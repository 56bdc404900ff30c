// svu-hub console: tabs, refresh and the wiring of forms and buttons (loaded last).
"use strict";

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
