"use strict";
(function () {
  let map = null;
  let layer = null;

  function showJob(job) {
    const pct = job.total ? Math.round((100 * job.done) / job.total) : (job.status === "done" ? 100 : 0);
    const bar = document.getElementById("bar");
    bar.style.width = pct + "%";
    bar.textContent = pct + "%";
    const status = document.getElementById("status");
    status.textContent = `${stateLabel(job.status)} · ${job.done}/${job.total} · ${job.message || ""}`;
    status.dataset.status = job.status;
    document.getElementById("problems").innerHTML = job.problems.length
      ? job.problems.map((p) => `<li><b>${esc(p.name)}</b> (${esc(p.status)}): ${p.messages.map(esc).join("; ")}</li>`).join("")
      : `<li>${esc(T.none)}</li>`;
  }

  async function showDetections(jobId) {
    const fc = await api(`/api/flights/${jobId}/detections`);
    const ul = document.getElementById("detections");
    ul.innerHTML = fc.features.length ? "" : `<li>${esc(T.none)}</li>`;
    fc.features.forEach((f) => {
      const p = f.properties;
      const li = document.createElement("li");
      li.className = "detection";
      li.textContent = `${p.kind} · ${(p.confidence * 100).toFixed(0)}% · ${p.lat.toFixed(6)}, ${p.lon.toFixed(6)}`;
      ul.appendChild(li);
    });
    if (!map) map = L.map("flight-map", { maxZoom: 20 }).setView([16, 106], 5);
    if (layer) layer.remove();
    layer = L.geoJSON(fc, { pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 6, color: "#b3001b" }) }).addTo(map);
    if (fc.features.length) map.fitBounds(layer.getBounds().pad(0.5), { maxZoom: 18 });
  }

  async function poll(jobId) {
    const job = await api(`/api/flights/${jobId}`);
    showJob(job);
    if (job.status === "done") { await showDetections(jobId); await listFlights(); return; }
    if (job.status === "failed") { await listFlights(); return; }
    setTimeout(() => poll(jobId), 500);
  }

  function send() {
    const file = document.getElementById("flight").files[0];
    if (!file) return;
    const name = (file.name || "flight.zip").replace(/[^\w .()+-]/g, "_").replace(/^[._]+/, "") || "flight.zip";
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/flights?filename=${encodeURIComponent(name)}`);
    xhr.setRequestHeader("Content-Type", "application/zip");
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable) {
        document.getElementById("bar").style.width = Math.round((100 * ev.loaded) / ev.total) + "%";
        document.getElementById("status").textContent = `${T.upload}: ${Math.round((100 * ev.loaded) / ev.total)}%`;
      }
    };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
      if (xhr.status >= 400) {
        document.getElementById("status").textContent = `${T.error}: ${body.detail || xhr.statusText}`;
        return;
      }
      poll(body.id);
    };
    xhr.send(file);
  }

  async function listFlights() {
    const jobs = await api("/api/flights");
    document.getElementById("flights").innerHTML = jobs.map((j) =>
      `<li>${esc(j.filename)} · ${esc(stateLabel(j.status))} · ${j.hotspots} ${esc(T.detections)} <small>${esc(fmtTime(j.created_at))}</small></li>`).join("");
  }

  document.getElementById("send").addEventListener("click", send);
  listFlights().catch((err) => console.warn(err.message));
})();
