/* burnwatch pages: labels, fetch helper, escaping. No external requests. */
"use strict";
const T = JSON.parse(document.getElementById("i18n").textContent);

function esc(value) {
  return String(value === null || value === undefined ? "" : value)
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

function stateLabel(state) {
  return T["st_" + state] || state || "";
}

async function api(url, options) {
  const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
  if (opts.json !== undefined) {
    opts.body = JSON.stringify(opts.json);
    opts.headers["Content-Type"] = "application/json";
    delete opts.json;
  }
  const response = await fetch(url, opts);
  let body = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) body = await response.json();
  if (!response.ok) {
    const detail = body && body.detail ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)) : response.statusText;
    const err = new Error(detail);
    err.status = response.status;
    throw err;
  }
  return body;
}

function fmtTime(iso) {
  return iso ? iso.replace("T", " ").replace("Z", " UTC") : "";
}

function historyItems(history) {
  return history.map((h) => {
    let text = "";
    if (h.type === "event") text = `${stateLabel(h.from_state)} → <b>${esc(stateLabel(h.to_state))}</b>: ${esc(h.reason)}` + (h.assignee ? ` (${esc(h.assignee)})` : "");
    else if (h.type === "note") text = `${esc(T.note)}: ${esc(h.text)}`;
    else if (h.type === "evidence") {
      const dist = h.distance_m === null || h.distance_m === undefined ? esc(T.no_gps) : `${esc(T.distance)}: ${Number(h.distance_m).toFixed(0)} m`;
      text = `${esc(T.photo)}: <a href="${esc(h.url)}" target="_blank"><img class="thumb" src="${esc(h.url)}" alt="${esc(h.filename)}"></a> <span class="distance">${dist}</span>`;
    }
    return `<li><time>${esc(fmtTime(h.at))}</time> <span class="actor">${esc(h.actor)}</span> ${text}</li>`;
  }).join("");
}
