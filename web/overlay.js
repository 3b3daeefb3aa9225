// The OBS overlay: one stream's top genre (or "unsure (X?)" when the engine is not
// confident) and its three most probable genres, on a transparent page of fixed size. /overlay?stream=NAME on a multi-stream server
// (protocol v2), /overlay on a single-stream one (v1).

import { genreColours, keepConnected } from "./palette.js";

const SHOWN = 3;
const $ = (id) => document.getElementById(id);
let labels = [];
let colours = [];
function receive(message) {
  if (message.type === "hello") {
    labels = message.labels;
    colours = genreColours(labels, true);
    setState(message.state ?? "live");
    $("caption").textContent = message.title ?? message.stream ?? message.source;
  } else if (message.type === "update") {
    show(message);
  } else if (message.type === "history" && message.updates.length) {
    show(message.updates.at(-1));
  } else if (message.type === "status") {
    setState(message.state);
    if (message.title) $("caption").textContent = message.title;
  } else if (message.type === "end") {
    setState("ended");
  }
}

function setState(state) {
  $("overlay").dataset.state = state;
  if (state !== "live") $("genre").textContent = state;
}

function show(update) {
  const state = update.state ?? "live";
  setState(state);
  $("overlay").dataset.column = update.column;
  // Below the engine's confidence threshold no genre is named, as on every other view.
  $("overlay").dataset.unsure = state === "live" && Boolean(update.uncertain);
  if (state === "live") $("genre").textContent = update.uncertain ? `unsure (${update.top}?)` : update.top;
  if (update.title) $("caption").textContent = update.title;
  const ranked = Object.entries(update.probabilities).sort((a, b) => b[1] - a[1]).slice(0, SHOWN);
  $("bars").replaceChildren(...ranked.map(([label, p]) => {
    const item = document.createElement("li");
    item.dataset.label = label;
    item.innerHTML = '<span class="name"></span><span class="track"><span class="fill"></span></span><span class="percent"></span>';
    item.querySelector(".name").textContent = label;
    item.querySelector(".percent").textContent = `${(100 * p).toFixed(0)}%`;
    item.style.setProperty("--p", p);
    item.style.setProperty("--colour", colours[labels.indexOf(label)] ?? "#fff");
    return item;
  }));
}

keepConnected(receive);
