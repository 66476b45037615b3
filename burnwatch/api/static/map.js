/* Map page: incidents + hotspots (clustered per source), flight footprints, raster overlays,
   a day slider and an incident side panel. Basemap only when a tile URL is configured. */
"use strict";
(function () {
  const el = document.getElementById("map");
  const map = L.map(el, { minZoom: 3, maxZoom: 19 }).setView([16.0, 106.0], 6);
  const tileUrl = el.dataset.tileUrl;
  const control = L.control.layers(null, null, { collapsed: window.innerWidth < 700 }).addTo(map);
  if (tileUrl) L.tileLayer(tileUrl, { maxZoom: 19 }).addTo(map);

  const CONF_COLOURS = { low: "#f2c14e", nominal: "#f78154", high: "#b3001b" };
  const STATE_COLOURS = {
    new: "#d7263d", assigned: "#f46036", in_inspection: "#f4a259", confirmed_burning: "#7a0010",
    no_burning_found: "#2e933c", static_source: "#5b5f97", closed: "#8d8d8d", none: "#d7263d",
  };
  let incidents = [];
  let hotspots = [];
  let days = [];
  const incidentLayer = L.layerGroup().addTo(map);
  control.addOverlay(incidentLayer, esc(T.incidents));
  const sourceGroups = {};

  function dayOf(iso) { return iso ? iso.slice(0, 10) : ""; }
  function selectedDay() {
    const v = Number(document.getElementById("day").value);
    return v === 0 ? null : days[v - 1];
  }

  function incidentIcon(f) {
    const state = f.properties.case_state || "none";
    return L.divIcon({
      className: "incident-icon state-" + state,
      html: `<span style="background:${STATE_COLOURS[state] || "#d7263d"}" data-incident-id="${f.id}"></span>`,
      iconSize: [22, 22],
    });
  }

  function draw() {
    const day = selectedDay();
    incidentLayer.clearLayers();
    Object.values(sourceGroups).forEach((g) => g.clearLayers());
    const list = document.getElementById("incident-list");
    list.innerHTML = "";
    const shown = incidents.filter((f) => !day || (dayOf(f.properties.first_seen) <= day && day <= dayOf(f.properties.last_seen)));
    shown.forEach((f) => {
      const p = f.properties;
      const colour = STATE_COLOURS[p.case_state || "none"];
      L.geoJSON(f.geometry, { style: { color: colour, weight: 2, fillOpacity: 0.2 } }).addTo(incidentLayer);
      const m = L.marker([p.lat, p.lon], { icon: incidentIcon(f), title: `${T.incident} ${f.id}` });
      m.on("click", () => openIncident(f.id));
      m.addTo(incidentLayer);
      const li = document.createElement("li");
      li.innerHTML = `<a href="#incident-${f.id}" class="incident-link" data-id="${f.id}">${esc(T.incident)} #${f.id}</a>
        <span class="badge" style="background:${colour}">${esc(stateLabel(p.case_state) || T.no_case)}</span>
        <small>${esc(p.province || "")} · ${esc(T.confidence)} ${(p.confidence * 100).toFixed(0)}%</small>`;
      li.querySelector("a").addEventListener("click", (ev) => { ev.preventDefault(); openIncident(f.id); });
      list.appendChild(li);
    });
    hotspots.filter((f) => !day || dayOf(f.properties.time) === day).forEach((f) => {
      const p = f.properties;
      let g = sourceGroups[p.source];
      if (!g) {
        g = sourceGroups[p.source] = L.markerClusterGroup({ disableClusteringAtZoom: 13, showCoverageOnHover: false });
        g.addTo(map);
        control.addOverlay(g, esc(`${T.hotspots}: ${p.source}`));  // Leaflet inserts labels as HTML
      }
      const m = L.circleMarker([p.lat, p.lon], {
        radius: 6, color: "#222", weight: 1, fillColor: CONF_COLOURS[p.confidence_class] || "#f78154", fillOpacity: 0.9,
      });
      m.bindPopup(`<b>${esc(p.source)}</b> ${esc(p.sensor)}<br>${esc(fmtTime(p.time))}<br>${esc(T.confidence)}: ${esc(T["conf_" + p.confidence_class] || p.confidence_class)} (${(p.confidence * 100).toFixed(0)}%)`);
      g.addLayer(m);
    });
  }

  async function openIncident(id) {
    const detail = document.getElementById("incident-detail");
    detail.hidden = false;
    detail.innerHTML = `<p>${esc(T.loading)}</p>`;
    try {
      const inc = await api(`/api/incidents/${id}`);
      const p = inc.properties;
      map.setView([p.lat, p.lon], Math.max(map.getZoom(), 13));
      const sources = Object.entries(p.source_counts || {}).map(([s, n]) => `<li>${esc(s)}: ${n}</li>`).join("");
      const hs = inc.hotspots.slice(0, 20).map((h) => `<li>${esc(h.source)} ${esc(h.sensor)} · ${esc(fmtTime(h.time))} · ${(h.confidence * 100).toFixed(0)}%</li>`).join("");
      const c = inc.case;
      const photos = c ? c.history.filter((h) => h.type === "evidence") : [];
      detail.innerHTML = `<h3 id="incident-title">${esc(T.incident)} #${inc.id}</h3>
        <dl class="facts"><dt>${esc(T.province)}</dt><dd>${esc(p.province || "—")} ${esc(p.commune || "")}</dd>
        <dt>${esc(T.first_seen)}</dt><dd>${esc(fmtTime(p.first_seen))}</dd>
        <dt>${esc(T.last_seen)}</dt><dd>${esc(fmtTime(p.last_seen))}</dd>
        <dt>${esc(T.confidence)}</dt><dd>${(p.confidence * 100).toFixed(0)}%</dd>
        <dt>${esc(T.state)}</dt><dd class="case-state">${esc(c ? stateLabel(c.state) : T.no_case)}</dd></dl>
        ${c ? `<p><a class="primary button" id="open-case" href="/cases/${c.id}">${esc(T.open_case)} #${c.id}</a></p>` : ""}
        <h4>${esc(T.sources)}</h4><ul>${sources}</ul><ul class="small">${hs}</ul>
        <h4>${esc(T.photos)}</h4>${photos.length ? `<ul class="history">${historyItems(photos)}</ul>` : `<p>${esc(T.none)}</p>`}
        <h4>${esc(T.history)}</h4><ol class="history">${c ? historyItems(c.history) : ""}</ol>`;
    } catch (err) {
      detail.innerHTML = `<p class="error">${esc(T.error)}: ${esc(err.message)}</p>`;
    }
  }

  async function loadRasters() {
    try {
      const layers = await api("/api/layers");
      layers.forEach((l) => {
        const overlay = L.imageOverlay(l.url, l.bounds, { opacity: 0.7 });
        control.addOverlay(overlay, esc(`${T.rasters}: ${l.name}`));
      });
    } catch (err) { console.warn("raster layers:", err.message); }
  }

  async function loadFootprints() {
    try {
      const fc = await api("/api/footprints");
      const layer = L.geoJSON(fc, { style: { color: "#1b6ca8", weight: 1, fillOpacity: 0.05 } });
      control.addOverlay(layer, esc(T.footprints));
    } catch (err) { console.warn("footprints:", err.message); }
  }

  const LIMIT_INCIDENTS = 2000;
  const LIMIT_HOTSPOTS = 5000;
  const slider = document.getElementById("day");
  slider.addEventListener("input", () => {
    const d = selectedDay();
    document.getElementById("day-label").textContent = d || T.all_dates;
    draw();
  });

  function rebuildDays() {
    const keep = selectedDay();
    const set = new Set();
    hotspots.forEach((f) => set.add(dayOf(f.properties.time)));
    incidents.forEach((f) => { set.add(dayOf(f.properties.first_seen)); set.add(dayOf(f.properties.last_seen)); });
    days = Array.from(set).filter(Boolean).sort();
    slider.max = String(days.length);
    const at = keep ? days.indexOf(keep) : -1;
    slider.value = String(at + 1);
    document.getElementById("day-label").textContent = at >= 0 ? keep : T.all_dates;
  }

  function showStatus(inc) {
    const status = document.getElementById("view-status");
    const matched = inc.numberMatched;
    status.textContent = matched > inc.numberReturned
      ? T.shown_of.replace("{n}", String(inc.numberReturned)).replace("{m}", String(matched))
      : "";
  }

  function ids(features) { return features.map((f) => f.id).join(","); }

  // newest incidents and hotspots, of the whole scope or of the box in view (WGS84)
  async function fetchData(bbox) {
    const q = bbox ? `&bbox=${bbox}` : "";
    const [inc, hs] = await Promise.all([
      api(`/api/incidents?limit=${LIMIT_INCIDENTS}${q}`), api(`/api/hotspots?limit=${LIMIT_HOTSPOTS}${q}`),
    ]);
    showStatus(inc);
    if (ids(inc.features) === ids(incidents) && ids(hs.features) === ids(hotspots)) return false;
    incidents = inc.features;
    hotspots = hs.features;
    rebuildDays();
    draw();
    return true;
  }

  function viewBbox() {
    const b = map.getBounds();
    const box = [Math.max(-180, b.getWest()), Math.max(-90, b.getSouth()), Math.min(180, b.getEast()), Math.min(90, b.getNorth())];
    return box[0] < box[2] && box[1] < box[3] ? box.map((v) => v.toFixed(5)).join(",") : null;
  }

  let reloadTimer = null;
  function reloadView() {  // after panning/zooming: the newest features of the new view
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => {
      const bbox = viewBbox();
      if (bbox) fetchData(bbox).catch((err) => console.warn("map view:", err.message));
    }, 300);
  }

  async function load() {
    await fetchData(null);
    const pts = incidents.map((f) => [f.properties.lat, f.properties.lon]).concat(hotspots.map((f) => [f.properties.lat, f.properties.lon]));
    if (pts.length) map.fitBounds(L.latLngBounds(pts).pad(0.2), { maxZoom: 13 });
    map.on("moveend", reloadView);
    const hash = location.hash.match(/^#incident-(\d+)$/);
    if (hash) openIncident(Number(hash[1]));
  }

  load().catch((err) => {
    console.error("map data:", err);
    document.getElementById("incident-list").innerHTML = `<li class="error">${esc(T.error)}: ${esc(err.message || String(err))}</li>`;
  });
  loadRasters();
  loadFootprints();
  window.burnwatchMap = map;
})();
