// reconcile dashboard: the live parts over the v1 API. No framework, no build step.
// Server fragments are swapped in whole (the server escapes them); everything this script
// writes itself goes through textContent, never innerHTML.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const POINTS = 90; // samples kept by the chart (one a second)
let selected = location.hash.slice(1) || null;
let detail = null; // {name, abort, cpu: [], mem: [], limit}

function applyShares(root) {
  for (const bar of root.querySelectorAll("[data-share]")) {
    bar.style.width = `${bar.dataset.share}%`;
  }
}

function debounce(fn, wait) {
  let timer = null;
  return () => { clearTimeout(timer); timer = setTimeout(fn, wait); };
}

async function swap(id, url) {
  try {
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (!response.ok) throw new Error(`${response.status}`);
    const target = document.getElementById(id);
    target.innerHTML = await response.text();
    applyShares(target);
    markSelected();
  } catch (err) {
    setLive("bad", "disconnected");
  }
}

const refreshStacks = debounce(() => swap("stacks", "/dashboard/fragments/stacks"), 150);
const refreshPlan = debounce(() => swap("plan", "/dashboard/fragments/plan"), 300);

function setLive(css, text) {
  const live = $("#live");
  live.className = `pill ${css}`;
  live.textContent = text;
}

// -- the event feed --

const KIND_CLASS = [[/failed|died|unhealthy|gave-up|invalid|oom/, "bad"],
  [/backoff|waiting|orphan|rolled-back/, "warn"], [/succeeded|converged|loaded|deployed/, "ok"]];

function addEvent(event) {
  const list = $("#events");
  for (const placeholder of list.querySelectorAll("li.empty")) placeholder.remove();
  const item = document.createElement("li");
  item.className = "fresh";
  const when = document.createElement("time");
  when.textContent = new Date(event.time * 1000).toLocaleTimeString([], { hour12: false });
  const body = document.createElement("div");
  const kind = document.createElement("span");
  const type = String(event.type || "");
  kind.className = `kind ${(KIND_CLASS.find(([re]) => re.test(type)) || [0, ""])[1]}`;
  kind.textContent = type.replace(/^loop-/, "");
  body.append(kind);
  const extra = [event.name, event.action, event.reason || event.error,
    event.exit_code != null ? `exit ${event.exit_code}` : null].filter(Boolean);
  if (extra.length) body.append(` ${extra.join(" · ")}`);
  item.append(when, body);
  list.prepend(item);
  while (list.children.length > 200) list.lastChild.remove();
}

function follow() {
  const source = new EventSource("/v1/events");
  source.onopen = () => setLive("ok", "live");
  source.onerror = () => setLive("warn", "reconnecting…");
  source.addEventListener("loop", (message) => {
    const event = JSON.parse(message.data);
    addEvent(event);
    refreshStacks();
    if (/^(loop-)?(stack-|converged|action-)/.test(event.type)) refreshPlan();
  });
  source.addEventListener("dropped", (message) => {
    $("#events-note").textContent = JSON.parse(message.data).note;
  });
}

// -- one container: live chart and log tail --

async function readLines(url, signal, onLine) {
  const response = await fetch(url, { credentials: "same-origin", signal });
  if (!response.ok || !response.body) return;
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      if (line.trim()) onLine(JSON.parse(line));
    }
  }
}

function open(name) {
  if (detail) detail.abort.abort();
  selected = name;
  history.replaceState(null, "", `#${encodeURIComponent(name)}`);
  markSelected();
  const panel = $("#detail");
  panel.hidden = false;
  $("#detail-name").textContent = name;
  $("#detail-usage").textContent = "";
  const logs = $("#logs");
  logs.textContent = "";
  detail = { name, abort: new AbortController(), cpu: [], mem: [], limit: null };
  const path = `/v1/containers/${encodeURIComponent(name)}`;
  const { signal } = detail.abort;
  readLines(`${path}/logs?follow=1&tail=100`, signal, (line) => appendLog(logs, line))
    .catch(() => {});
  readLines(`${path}/stats?interval=1`, signal, (sample) => addSample(sample)).catch(() => {});
}

function close() {
  if (detail) detail.abort.abort();
  detail = null;
  selected = null;
  history.replaceState(null, "", location.pathname);
  $("#detail").hidden = true;
  markSelected();
}

function appendLog(logs, line) {
  const row = document.createElement("span");
  if (line.dropped) row.className = "stderr";
  else if (line.stream === "stderr") row.className = "stderr";
  row.textContent = `${line.dropped ? `[${line.note}]` : line.text}`.replace(/\n?$/, "\n");
  const atEnd = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
  logs.append(row);
  while (logs.childNodes.length > 1000) logs.firstChild.remove();
  if (atEnd) logs.scrollTop = logs.scrollHeight;
}

function addSample(sample) {
  if (!detail || sample.end) return;
  detail.cpu.push(sample.cpu_percent);
  detail.mem.push(sample.memory_usage);
  detail.limit = sample.memory_limit;
  for (const series of [detail.cpu, detail.mem]) while (series.length > POINTS) series.shift();
  const mem = `${(sample.memory_usage / 1048576).toFixed(1)} MiB` +
    (sample.memory_limit ? ` of ${(sample.memory_limit / 1048576).toFixed(0)} MiB` : "");
  $("#detail-usage").textContent = `cpu ${sample.cpu_percent.toFixed(1)}% · ${mem} · ` +
    `${sample.pids} pids`;
  draw();
}

function draw() {
  const canvas = $("#chart");
  const scale = window.devicePixelRatio || 1;
  const width = canvas.clientWidth * scale;
  const height = canvas.clientHeight * scale;
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, width, height);
  const style = getComputedStyle(document.documentElement);
  ctx.strokeStyle = style.getPropertyValue("--line").trim();
  ctx.lineWidth = 1;
  for (const share of [0.25, 0.5, 0.75]) {
    ctx.beginPath();
    ctx.moveTo(0, height * share);
    ctx.lineTo(width, height * share);
    ctx.stroke();
  }
  const line = (values, top, colour) => {
    if (values.length < 2) return;
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2 * scale;
    ctx.beginPath();
    values.forEach((v, i) => {
      const x = width - ((values.length - 1 - i) / (POINTS - 1)) * width; // newest at right
      const y = height - 6 * scale - (Math.min(v, top) / top) * (height - 12 * scale);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  };
  const cpuTop = Math.max(100, ...detail.cpu);
  // Memory is scaled to what it used (the limit is in the label): a small process under a
  // large limit would otherwise be a flat line on the floor.
  const memTop = Math.max(1, ...detail.mem) * 1.25;
  line(detail.cpu, cpuTop, style.getPropertyValue("--info").trim());
  line(detail.mem, memTop, style.getPropertyValue("--ok").trim());
  ctx.fillStyle = style.getPropertyValue("--dim").trim();
  ctx.font = `${11 * scale}px system-ui, sans-serif`;
  ctx.fillText(`top: ${cpuTop.toFixed(0)}% cpu · ${(memTop / 1048576).toFixed(1)} MiB` +
    (detail.limit ? ` (limit ${(detail.limit / 1048576).toFixed(0)} MiB)` : ""),
  6 * scale, 14 * scale);
}

function markSelected() {
  for (const row of document.querySelectorAll("tr.container")) {
    row.classList.toggle("selected", row.dataset.name === selected);
  }
}

// -- actions, after a confirmation --

function confirmAction(verb, name) {
  const dialog = $("#confirm");
  $("#confirm-text").textContent = `${verb[0].toUpperCase()}${verb.slice(1)} ${name}?`;
  $("#confirm-ok").textContent = verb;
  dialog.returnValue = "";
  dialog.onclose = () => { if (dialog.returnValue === "ok") act(verb, name); };
  dialog.showModal();
}

async function act(verb, name) {
  // Same-origin fetch: the browser sends Origin and Host of this page, which the API's
  // CSRF check accepts; a page of another origin could not.
  const response = await fetch(`/v1/containers/${encodeURIComponent(name)}/${verb}`, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: "{}",
  });
  $("#events-note").textContent = response.ok ? `${verb} ${name}: done`
    : `${verb} ${name}: refused (${response.status})`;
  refreshStacks();
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button.act");
  if (button) { confirmAction(button.dataset.verb, button.dataset.name); return; }
  const link = event.target.closest("a.name");
  if (link) { event.preventDefault(); open(link.dataset.name); }
});
$("#detail-close").addEventListener("click", close);

applyShares(document);
follow();
setInterval(refreshStacks, 3000);
setInterval(refreshPlan, 5000);
if (selected && document.querySelector(`tr.container[data-name="${CSS.escape(selected)}"]`)) {
  open(selected);
}
