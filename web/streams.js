// The overview of a multi-stream server (protocol v2, docs/protocol.md: Protocol v2): every stream's
// name, state, top genre and a mini timeline, from one websocket (/ws). No build step.

import { genreColours, keepConnected } from "./palette.js";

const TIMELINE_UPDATES = 128; // ≈30 s at 4.3 updates per second
const $ = (id) => document.getElementById(id);
const dark = matchMedia("(prefers-color-scheme: dark)");
const streams = new Map(); // name → {labels, colours, card, tops: [label index | -1 for silence]}
function setPill(state, text) {
  $("connection").dataset.state = state;
  $("connection").textContent = text;
}

function receive(message) {
  if (message.type === "streams") start(message.streams);
  else if (message.type === "history") message.updates.forEach(addUpdate);
  else if (message.type === "update") addUpdate(message);
  else if (message.type === "status") setState(message.stream, message.state, message);
  else if (message.type === "end") setState(message.stream, "ended", message);
}

function start(hellos) {
  setPill("live", "live");
  streams.clear();
  $("streams").replaceChildren(...hellos.map((hello) => {
    const entry = { labels: hello.labels, colours: genreColours(hello.labels, dark.matches), tops: [],
      card: makeCard(hello) };
    streams.set(hello.stream, entry);
    setState(hello.stream, hello.state, hello);
    return entry.card;
  }));
  $("summary").textContent = `${hellos.length} stream${hellos.length === 1 ? "" : "s"}`;
}

function makeCard(hello) {
  const card = document.createElement("li");
  card.className = "card";
  card.dataset.stream = hello.stream;
  const token = new URLSearchParams(location.search).get("token");
  const query = (extra) => `?stream=${encodeURIComponent(hello.stream)}${token ? `&token=${encodeURIComponent(token)}` : ""}${extra}`;
  card.innerHTML = `
    <div class="head"><a class="name"></a><span class="pill state"></span></div>
    <div class="title"></div>
    <p class="top"><span class="swatch"></span><span class="genre">—</span><span class="percent"></span><span class="key"></span></p>
    <canvas class="timeline" role="img" aria-label="top genre over the last 30 s"></canvas>
    <div class="links"><a class="detail">details</a><a class="overlay">overlay</a><span class="gaps"></span></div>`;
  card.querySelector(".name").textContent = hello.stream;
  card.querySelector(".name").title = hello.source;
  card.querySelector(".name").href = `index.html${query("")}`;
  card.querySelector(".detail").href = `index.html${query("")}`;
  card.querySelector(".overlay").href = `overlay${query("")}`;
  return card;
}

function setState(name, state, message) {
  const entry = streams.get(name);
  if (!entry) return;
  const card = entry.card;
  card.dataset.state = state;
  const pill = card.querySelector(".state");
  pill.dataset.state = state;
  pill.textContent = state;
  if (message.title) card.querySelector(".title").textContent = message.title;
  if (message.gaps) card.querySelector(".gaps").textContent = `${message.gaps} gap${message.gaps === 1 ? "" : "s"}`;
  if (state !== "live") showTop(entry, null);
}

function addUpdate(update) {
  const entry = streams.get(update.stream);
  if (!entry) return;
  const silent = update.state === "silence";
  entry.tops.push(silent ? -1 : entry.labels.indexOf(update.top));
  if (entry.tops.length > TIMELINE_UPDATES) entry.tops.shift();
  entry.card.dataset.column = update.column;
  setState(update.stream, update.state, update);
  showTop(entry, silent ? null : update);
  drawTimeline(entry);
}

function showTop(entry, update) {
  const card = entry.card;
  const state = card.dataset.state;
  card.querySelector(".genre").textContent = !update ? (state === "live" ? "—" : state)
    : update.uncertain ? `unsure (${update.top}?)` : update.top;
  // The key of the stream's context (model/pitch.py); none in silence or without pitch.
  card.querySelector(".key").textContent = update?.key ? `key ${update.key} (${update.key_confidence.toFixed(2)})` : "";
  card.querySelector(".percent").textContent = update ? `${(100 * update.probabilities[update.top]).toFixed(0)}%` : "";
  card.querySelector(".swatch").style.background = update ? entry.colours[entry.labels.indexOf(update.top)] : "transparent";
}

function drawTimeline(entry) {
  const canvas = entry.card.querySelector("canvas");
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(canvas.clientWidth * ratio);
  canvas.height = Math.round(canvas.clientHeight * ratio);
  const ctx = canvas.getContext("2d");
  const step = canvas.width / TIMELINE_UPDATES;
  const muted = getComputedStyle(document.body).getPropertyValue("--muted");
  entry.tops.forEach((top, i) => {
    const x = canvas.width - (entry.tops.length - i) * step;
    ctx.fillStyle = top < 0 ? muted : entry.colours[top];
    ctx.fillRect(Math.floor(x), top < 0 ? canvas.height * 0.45 : 0, Math.ceil(step), top < 0 ? canvas.height * 0.1 : canvas.height);
  });
}

keepConnected(receive, () => setPill("reconnecting", "reconnecting"));
