// genrescope live dashboard: one websocket to the server that served this page,
// no dependencies, no build step. Protocol: docs/protocol.md, "Live server and protocol" and "Protocol v2".

import { genreColours, socketUrl } from "./palette.js";

const PROTOCOL_VERSIONS = [1, 2]; // 2: a stream of a multi-stream server (docs/protocol.md: Protocol v2)
const WINDOW_SECONDS = 60;
const SEGMENT_WINDOW_SECONDS = 600; // the segment band under the timeline: the last 10 minutes
const RATE_WINDOW_MS = 5000;
const RATE_MIN_SPAN_S = 2; // a measured rate over less time is noise (e.g. a queued burst)
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10000;

// Viridis stops (perceptually uniform, colour-blind safe): the model's own thumbnails.
const VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"];

const $ = (id) => document.getElementById(id);
const darkScheme = matchMedia("(prefers-color-scheme: dark)");

const stream = {
  labels: [],
  colours: [],
  windowColumns: 256,
  columnSeconds: WINDOW_SECONDS / 256,
  contextSeconds: 30, // the longest context the model uses
  history: [], // {column, probabilities: number[] in label order, mel: Uint8Array, chroma: Uint8Array}
  last: null, // the newest update message
  arrivals: [], // ms timestamps of recent updates, for the measured rate
  segments: null, // the newest `segments` message: {recent: [...], open}, times on the updates' clock
};

// --- connection -----------------------------------------------------------------------

let backoffMs = BACKOFF_FIRST_MS;
let attempts = 0;
let ended = false;

function connect() {
  attempts += 1;
  const socket = new WebSocket(socketUrl());
  socket.onmessage = (event) => receive(JSON.parse(event.data));
  socket.onclose = () => scheduleReconnect();
}

function scheduleReconnect() {
  const delay = backoffMs * (0.75 + Math.random() / 2);
  backoffMs = Math.min(BACKOFF_MAX_MS, backoffMs * 2);
  if (!ended) setConnection("reconnecting", `reconnecting in ${(delay / 1000).toFixed(1)} s (try ${attempts})`);
  setTimeout(connect, delay);
}

function setConnection(state, text) {
  const pill = $("connection");
  pill.dataset.state = state;
  pill.textContent = text;
}

function receive(message) {
  if (message.type === "hello") startStream(message);
  else if (message.type === "history") message.updates.forEach((update) => addUpdate(update, false));
  else if (message.type === "update") addUpdate(message, true);
  else if (message.type === "lag") $("skipped").textContent = message.dropped;
  else if (message.type === "end") endStream(message);
  else if (message.type === "status") showState(message.state);
  else if (message.type === "segments") showSegments(message);
  else if (message.type === "streams") location.replace(`/${location.search}`); // several streams, none named: the overview
}

// --- messages -------------------------------------------------------------------------

function startStream(hello) {
  backoffMs = BACKOFF_FIRST_MS;
  attempts = 0;
  ended = false;
  if (!PROTOCOL_VERSIONS.includes(hello.v)) {
    setConnection("error", `server speaks protocol v${hello.v}, this page v${PROTOCOL_VERSIONS.join("/")}`);
  } else {
    showState(hello.state ?? "live");
  }
  const frontend = hello.frontend;
  stream.labels = hello.labels;
  stream.columnSeconds = (frontend.frames_per_column * frontend.hop_length) / frontend.sample_rate;
  stream.windowColumns = Math.round(WINDOW_SECONDS / stream.columnSeconds);
  stream.contextSeconds = frontend.context_columns * stream.columnSeconds;
  stream.history = [];
  stream.last = null;
  stream.arrivals = [];
  stream.segments = null;
  $("source").textContent = hello.source;
  $("model").textContent = hello.model_version;
  $("provider").textContent = shortProvider(hello.provider);
  $("skipped").textContent = "0";
  $("ended").hidden = true;
  $("top-label").textContent = "—";
  $("top-percent").textContent = "";
  $("key").textContent = "—";
  $("key-confidence").textContent = "";
  $("context").textContent = "waiting for the first second of audio";
  applyColours();
  buildBars();
  showCover(hello.cover);
  render();
}

// `live`: it just happened (not replayed from the history), so it counts for the rate.
function addUpdate(update, live) {
  const probabilities = stream.labels.map((label) => update.probabilities[label] ?? 0);
  const chroma = Uint8Array.from(update.chroma ?? [], (c) => Math.round(255 * c)); // 0..1 → like mel
  stream.history.push({ column: update.column, probabilities, mel: Uint8Array.from(update.mel), chroma });
  const oldest = update.column - stream.windowColumns;
  while (stream.history.length && stream.history[0].column <= oldest) stream.history.shift();
  stream.last = update;
  if (live) {
    const now = performance.now();
    stream.arrivals.push(now);
    while (stream.arrivals[0] < now - RATE_WINDOW_MS) stream.arrivals.shift();
  }
  scheduleRender();
}

// A multi-stream server's source state: live, silence, connecting, reconnecting.
function showState(state) {
  setConnection(state, state);
  document.body.dataset.sourceState = state;
}

function endStream(end) {
  ended = true;
  setConnection("ended", end.error ? "ended with an error" : "source ended");
  $("summary").textContent = end.error ? `${end.summary}\n\nerror: ${end.error}` : end.summary;
  $("ended").hidden = false;
}

// --- colours --------------------------------------------------------------------------

function applyColours() {
  stream.colours = genreColours(stream.labels, darkScheme.matches);
  document.querySelectorAll("#bars li, #legend li, #cover-bars li").forEach((item) => {
    item.style.setProperty("--colour", colourOf(item.dataset.label));
  });
}

function colourOf(label) {
  const index = stream.labels.indexOf(label);
  return index >= 0 ? stream.colours[index] : "var(--muted)";
}

const VIRIDIS_LUT = (() => {
  const rgb = VIRIDIS.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
  const lut = new Uint8ClampedArray(256 * 3);
  for (let v = 0; v < 256; v += 1) {
    const x = (v / 255) * (rgb.length - 1);
    const i = Math.min(Math.floor(x), rgb.length - 2);
    for (let c = 0; c < 3; c += 1) lut[v * 3 + c] = rgb[i][c] + (rgb[i + 1][c] - rgb[i][c]) * (x - i);
  }
  return lut;
})();

// --- bars -----------------------------------------------------------------------------

function buildBars() {
  const bars = $("bars");
  bars.replaceChildren(...stream.labels.map((label, index) => barItem(label, index)));
  bars.style.setProperty("--rows", stream.labels.length);
  delete bars.dataset.column; // no update of this stream shown yet
  $("legend").replaceChildren(...stream.labels.map((label) => {
    const item = document.createElement("li");
    item.dataset.label = label;
    item.textContent = label;
    item.style.setProperty("--colour", colourOf(label));
    return item;
  }));
}

function barItem(label, rank) {
  const item = document.createElement("li");
  item.dataset.label = label;
  item.dataset.rank = rank;
  item.style.setProperty("--rank", rank);
  item.style.setProperty("--colour", colourOf(label));
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = label;
  const track = document.createElement("span");
  track.className = "track";
  track.innerHTML = '<span class="fill"></span><span class="raw" title="this window alone"></span>';
  const percent = document.createElement("span");
  percent.className = "percent";
  item.append(name, track, percent);
  return item;
}

function renderBars(update) {
  const ranked = [...stream.labels].sort((a, b) => update.probabilities[b] - update.probabilities[a]);
  const bars = $("bars");
  for (const item of bars.children) {
    const label = item.dataset.label;
    const p = update.probabilities[label];
    item.dataset.rank = ranked.indexOf(label);
    item.style.setProperty("--rank", item.dataset.rank);
    item.style.setProperty("--p", p);
    item.style.setProperty("--raw", update.raw[label]);
    item.querySelector(".percent").textContent = percentText(p);
  }
  bars.dataset.column = update.column;
  const top = update.top;
  const silent = update.state === "silence"; // no genre to show: the bars are dimmed
  bars.dataset.silent = silent;
  // Below the engine's confidence threshold the page names no genre, only its best guess.
  $("top-label").textContent = silent ? "silence" : update.uncertain ? `unsure (${top}?)` : top;
  $("top-percent").textContent = silent ? "" : percentText(update.probabilities[top]);
  $("top-swatch").style.background = silent ? "var(--muted)" : colourOf(top);
  const context = update.context_seconds;
  $("context").textContent = context < stream.contextSeconds - stream.columnSeconds
    ? `warming up: ${context.toFixed(1)} of ${stream.contextSeconds.toFixed(0)} s of context`
    : `judging the last ${context.toFixed(0)} s`;
}

function percentText(p) {
  return `${(100 * p).toFixed(1)}%`;
}

// --- canvases -------------------------------------------------------------------------

function fitCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.round(canvas.clientWidth * ratio);
  const height = Math.round(canvas.clientHeight * ratio);
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  return canvas.getContext("2d");
}

// How many columns before the newest one ``column`` is: 0 for the newest.
function age(column) {
  return (stream.last ? stream.last.column : column) - column;
}

// x of a column's left edge, with the newest column flush right.
function columnX(column, width) {
  return Math.round(width - ((age(column) + 1) * width) / stream.windowColumns);
}

function renderTimeline() {
  const canvas = $("timeline");
  const ctx = fitCanvas(canvas);
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  for (const entry of stream.history) {
    const x0 = columnX(entry.column, width);
    const x1 = columnX(entry.column + 1, width);
    let y = height;
    entry.probabilities.forEach((p, i) => {
      const h = p * height;
      ctx.fillStyle = stream.colours[i];
      ctx.fillRect(x0, y - h, x1 - x0, h + 0.5);
      y -= h;
    });
  }
  drawSecondsGrid(ctx, width, height);
}

function showSegments(message) {
  stream.segments = message;
  scheduleRender();
}

// The band under the timeline: the recent genre segments (serve's smoother), the newest
// update flush right; unsure ones pale and hatched, the running one open-ended.
function renderSegments() {
  const canvas = $("segments");
  const all = stream.segments ? [...stream.segments.recent, ...(stream.segments.open ? [stream.segments.open] : [])] : [];
  canvas.hidden = all.length === 0;
  if (canvas.hidden || !stream.last) return;
  const ctx = fitCanvas(canvas);
  const { width, height } = canvas;
  const ratio = window.devicePixelRatio || 1;
  const x = (seconds) => Math.round(width - ((stream.last.time - seconds) / SEGMENT_WINDOW_SECONDS) * width);
  ctx.clearRect(0, 0, width, height);
  ctx.font = `${12 * ratio}px system-ui, sans-serif`;
  ctx.textBaseline = "middle";
  const shown = all.filter((segment) => x(segment.end_s) > 0);
  for (const segment of shown) {
    const x0 = Math.max(0, x(segment.start_s));
    const x1 = Math.min(width, Math.max(x0 + 1, x(segment.end_s)));
    ctx.globalAlpha = segment.unsure ? 0.45 : 1;
    ctx.fillStyle = colourOf(segment.genre);
    ctx.fillRect(x0, 0, x1 - x0 - ratio, height);
    ctx.globalAlpha = 1;
    const name = segment.unsure ? `${segment.genre}?` : segment.genre;
    if (ctx.measureText(name).width + 8 * ratio < x1 - x0) {
      ctx.fillStyle = getComputedStyle(document.body).getPropertyValue("--fg");
      ctx.fillText(name, x0 + 4 * ratio, height / 2);
    }
  }
  canvas.dataset.segments = shown.length;
  canvas.dataset.open = stream.segments.open?.genre ?? "";
  canvas.setAttribute("aria-label", `genre segments of the last 10 minutes: ${shown.map((s) =>
    `${s.genre}${s.unsure ? " (unsure)" : ""} for ${Math.round(s.end_s - s.start_s)} s`).join(", ")}`);
}

function drawSecondsGrid(ctx, width, height) {
  const style = getComputedStyle(document.body);
  const ratio = window.devicePixelRatio || 1;
  ctx.strokeStyle = style.getPropertyValue("--grid");
  ctx.lineWidth = ratio;
  ctx.font = `${11 * ratio}px system-ui, sans-serif`;
  ctx.textBaseline = "top";
  for (let s = 10; s < WINDOW_SECONDS; s += 10) {
    const x = Math.round(width - (s / WINDOW_SECONDS) * width) + 0.5;
    ctx.beginPath();
    ctx.moveTo(x, 0);
    ctx.lineTo(x, height);
    ctx.stroke();
    const text = `−${s} s`;
    ctx.fillStyle = style.getPropertyValue("--panel");
    ctx.fillRect(x + 1.5 * ratio, 1.5 * ratio, ctx.measureText(text).width + 3 * ratio, 14 * ratio);
    ctx.fillStyle = style.getPropertyValue("--fg");
    ctx.fillText(text, x + 3 * ratio, 3 * ratio);
  }
}

const strip = document.createElement("canvas"); // one pixel per column and band

// A 60 s strip of one 0..255 field of the history (mel bands, chroma), viridis, bin 0 at the bottom.
function renderStrip(id, field) {
  const canvas = $(id);
  const ctx = fitCanvas(canvas);
  const bins = Math.max(1, ...stream.history.slice(-1).map((entry) => entry[field].length));
  const image = new ImageData(stream.windowColumns, bins);
  for (const entry of stream.history) {
    const x = stream.windowColumns - 1 - age(entry.column);
    entry[field].forEach((value, bin) => {
      const offset = ((bins - 1 - bin) * stream.windowColumns + x) * 4; // low bins at the bottom
      image.data.set(VIRIDIS_LUT.subarray(value * 3, value * 3 + 3), offset);
      image.data[offset + 3] = 255;
    });
  }
  strip.width = stream.windowColumns;
  strip.height = bins;
  strip.getContext("2d").putImageData(image, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(strip, 0, 0, canvas.width, canvas.height);
  return ctx;
}

const PITCH_CLASSES = ["C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B"];

// The chroma strip, its pitch classes named along the left edge (C at the bottom).
function renderChroma() {
  const ctx = renderStrip("chroma", "chroma");
  const { height } = ctx.canvas;
  const row = height / PITCH_CLASSES.length;
  const ratio = window.devicePixelRatio || 1;
  if (row < 8 * ratio) return; // too small to label
  const style = getComputedStyle(document.body);
  ctx.font = `${Math.min(11 * ratio, row * 0.85)}px system-ui, sans-serif`;
  ctx.textBaseline = "middle";
  ctx.fillStyle = style.getPropertyValue("--panel");
  ctx.fillRect(0, 0, 20 * ratio, height);
  ctx.fillStyle = style.getPropertyValue("--fg");
  PITCH_CLASSES.forEach((name, i) => ctx.fillText(name, 2 * ratio, height - (i + 0.5) * row));
}

// The context's key and how well it fits (the Pearson r of its profile); null: no pitch.
function renderKey(update) {
  const known = typeof update.key === "string";
  $("key").textContent = known ? update.key : "—";
  $("key-confidence").textContent = known ? `fit ${update.key_confidence.toFixed(2)}` : "no pitch";
  $("key").dataset.confidence = known ? update.key_confidence : 0;
}

// --- status and cover -----------------------------------------------------------------

function renderStatus(update) {
  const stats = update.stats;
  const span = (stream.arrivals.at(-1) - stream.arrivals[0]) / 1000;
  const engine = `engine ${stats.updates_per_second.toFixed(1)}/s`;
  $("rate").textContent = span >= RATE_MIN_SPAN_S
    ? `${((stream.arrivals.length - 1) / span).toFixed(1)}/s here (${engine})`
    : engine;
  $("compute").textContent = `${stats.compute_ms.toFixed(1)} ms (p50 ${stats.compute_ms_p50.toFixed(1)}, p99 ${stats.compute_ms_p99.toFixed(1)})`;
  $("provider").textContent = shortProvider(stats.provider);
  $("dropped-frames").textContent = stats.dropped_frames;
}

function shortProvider(provider) {
  return (provider || "—").replace(/ExecutionProvider$/, "");
}

function showCover(cover) {
  const usable = cover && typeof cover.image === "string" && cover.image.startsWith("data:image/");
  $("cover").hidden = !usable;
  if (!usable) return;
  $("cover-image").src = cover.image;
  fillMiniBars($("cover-bars"), cover.probabilities || {});
  $("fused-bars").replaceChildren(); // filled from the updates: fusion needs audio
}

function fillMiniBars(list, probabilities) {
  const ranked = Object.entries(probabilities).sort((a, b) => b[1] - a[1]);
  list.replaceChildren(...ranked.map(([label, p]) => {
    const item = document.createElement("li");
    item.dataset.label = label;
    item.style.setProperty("--p", p);
    item.style.setProperty("--colour", colourOf(label));
    item.textContent = `${label} ${percentText(p)}`;
    return item;
  }));
}

// --- rendering ------------------------------------------------------------------------

let renderPending = false;

function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => {
    renderPending = false;
    render();
  });
}

function render() {
  if (stream.last) {
    renderBars(stream.last);
    renderStatus(stream.last);
    renderKey(stream.last);
    if (stream.last.fused) fillMiniBars($("fused-bars"), stream.last.fused);
  }
  renderTimeline();
  renderSegments();
  renderStrip("spectrogram", "mel");
  renderChroma();
}

darkScheme.addEventListener("change", () => {
  applyColours();
  render();
});
window.addEventListener("resize", scheduleRender);
connect();
