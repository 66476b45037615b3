"use strict";
(function () {
  const root = document.getElementById("case");
  const id = root.dataset.caseId;
  const allowed = new Set(root.dataset.allowed.split(",").filter(Boolean));

  async function refresh() {
    const c = await api(`/api/cases/${id}`);
    const p = c.incident.properties;
    document.getElementById("case-state").textContent = stateLabel(c.state);
    document.getElementById("case-state").dataset.state = c.state;
    document.getElementById("case-facts").innerHTML = `
      <dt>${esc(T.incident)}</dt><dd><a href="/map#incident-${p.incident_id}">#${p.incident_id}</a> (${p.lat.toFixed(5)}, ${p.lon.toFixed(5)})</dd>
      <dt>${esc(T.province)}</dt><dd>${esc(p.province || "—")} ${esc(p.commune || "")}</dd>
      <dt>${esc(T.assignee)}</dt><dd>${esc(c.assignee || "—")}</dd>
      <dt>${esc(T.due)}</dt><dd>${esc(fmtTime(c.due_at) || "—")}</dd>`;
    const box = document.getElementById("transitions");
    box.innerHTML = "";
    const canAssign = document.getElementById("assignee-input") !== null;
    c.next_states.filter((s) => allowed.has(s) && (s !== "assigned" || canAssign)).forEach((s) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "state-btn";
      b.dataset.state = s;
      b.textContent = stateLabel(s);
      b.addEventListener("click", () => move(s));
      box.appendChild(b);
    });
    document.getElementById("history").innerHTML = historyItems(c.history);
  }

  async function move(state) {
    const msg = document.getElementById("transition-msg");
    const reason = document.getElementById("reason").value.trim() || stateLabel(state);
    try {
      const body = { to_state: state, reason: reason };
      if (state === "assigned") body.assignee = document.getElementById("assignee-input").value.trim();
      await api(`/api/cases/${id}/transition`, { method: "POST", json: body });
      msg.textContent = `${T.saved}: ${stateLabel(state)}`;
      msg.className = "msg ok";
      await refresh();
    } catch (err) {
      msg.textContent = `${T.error}: ${err.message}`;
      msg.className = "msg error";
    }
  }

  document.getElementById("photo").addEventListener("change", async (ev) => {
    const file = ev.target.files[0];
    const msg = document.getElementById("photo-msg");
    if (!file) return;
    msg.textContent = T.loading;
    const name = (file.name || "photo.jpg").replace(/[^\w .()+-]/g, "_").replace(/^[._]+/, "") || "photo.jpg";
    try {
      const r = await api(`/api/cases/${id}/evidence?filename=${encodeURIComponent(name)}`, {
        method: "POST", body: file, headers: { "Content-Type": file.type || "application/octet-stream" },
      });
      msg.textContent = r.distance_m === null ? `${T.saved}. ${T.no_gps}` : `${T.saved}. ${T.distance}: ${Number(r.distance_m).toFixed(0)} m`;
      msg.className = "msg ok";
      await refresh();
    } catch (err) {
      msg.textContent = `${T.error}: ${err.message}`;
      msg.className = "msg error";
    }
    ev.target.value = "";
  });

  document.getElementById("add-note").addEventListener("click", async () => {
    const text = document.getElementById("note").value.trim();
    if (!text) return;
    try {
      await api(`/api/cases/${id}/notes`, { method: "POST", json: { text: text } });
      document.getElementById("note").value = "";
      await refresh();
    } catch (err) {
      document.getElementById("transition-msg").textContent = `${T.error}: ${err.message}`;
    }
  });

  refresh().catch((err) => { document.getElementById("case-facts").innerHTML = `<p class="error">${esc(err.message)}</p>`; });
})();
