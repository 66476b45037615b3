"use strict";
(async function () {
  const list = document.getElementById("review-list");
  async function mark(id, verdict, li) {
    try {
      await api(`/api/review/${id}`, { method: "POST", json: { verdict: verdict } });
      li.dataset.verdict = String(verdict);
      li.querySelector(".verdict").textContent = verdict ? T.true_fire : T.false_alarm;
    } catch (err) {
      li.querySelector(".verdict").textContent = `${T.error}: ${err.message}`;
    }
  }
  try {
    const items = await api("/api/review/detections");
    list.innerHTML = items.length ? "" : `<li>${esc(T.none)}</li>`;
    items.forEach((d) => {
      const li = document.createElement("li");
      li.className = "review-item";
      li.dataset.id = d.hotspot_id;
      const mine = d.verdicts.length ? d.verdicts[d.verdicts.length - 1].verdict : null;
      li.innerHTML = `${d.thumbnail ? `<img src="${esc(d.thumbnail)}" alt="${esc(d.photo)}">` : ""}
        <div><b>${esc(d.kind)}</b> ${(d.confidence * 100).toFixed(0)}% · ${esc(d.photo || d.scene_id || "")}<br>
        <small>${esc(fmtTime(d.time))}${d.box ? ` · box ${d.box.map((v) => Math.round(v)).join(", ")} px` : ""}</small><br>
        ${esc(T.verdict)}: <span class="verdict">${mine === null ? "—" : (mine ? esc(T.true_fire) : esc(T.false_alarm))}</span></div>
        <div class="buttons"><button type="button" class="yes">${esc(T.true_fire)}</button><button type="button" class="no">${esc(T.false_alarm)}</button></div>`;
      li.querySelector(".yes").addEventListener("click", () => mark(d.hotspot_id, true, li));
      li.querySelector(".no").addEventListener("click", () => mark(d.hotspot_id, false, li));
      list.appendChild(li);
    });
  } catch (err) {
    list.innerHTML = `<li class="error">${esc(T.error)}: ${esc(err.message)}</li>`;
  }
})();
