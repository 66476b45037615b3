"use strict";
(async function () {
  const list = document.getElementById("case-list");
  try {
    const cases = await api(`/api/cases?mine=${list.dataset.mine}`);
    list.innerHTML = cases.length ? "" : `<li>${esc(T.none)}</li>`;
    cases.forEach((c) => {
      const p = c.incident.properties;
      const li = document.createElement("li");
      li.innerHTML = `<a href="/cases/${c.id}" class="case-link">${esc(T.cases)} #${c.id} — ${esc(T.incident)} #${p.incident_id}</a>
        <span class="badge state-${esc(c.state)}">${esc(stateLabel(c.state))}</span>
        <small>${esc(p.province || "")} ${c.due_at ? "· " + esc(T.due) + " " + esc(fmtTime(c.due_at)) : ""}</small>`;
      list.appendChild(li);
    });
  } catch (err) {
    list.innerHTML = `<li class="error">${esc(T.error)}: ${esc(err.message)}</li>`;
  }
})();
