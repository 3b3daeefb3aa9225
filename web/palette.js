// What the dashboard, the overview and the overlay share: genre colours, the socket.
// Okabe-Ito, colour-blind safe; its black turns light on a dark page. Tol's muted
// palette continues it for models with more than eight genres.
export const OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"];
export const TOL_MUTED = ["#882255", "#44AA99", "#999933", "#AA4499", "#88CCEE", "#DDCC77", "#117733", "#332288"];

export function genreColours(labels, dark) {
  const palette = [...OKABE_ITO, dark ? "#E8E8E8" : "#000000", ...TOL_MUTED];
  return labels.map((_, i) => palette[i % palette.length]);
}

// The websocket address of the server that served this page: the token, and the
// stream when the page names one (?stream=NAME).
export function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const params = new URLSearchParams(location.search);
  const query = new URLSearchParams();
  for (const name of ["token", "stream"]) if (params.get(name)) query.set(name, params.get(name));
  const text = query.toString();
  return `${scheme}://${location.host}/ws${text ? `?${text}` : ""}`;
}

// A websocket to socketUrl() that reconnects by itself, backing off from 0.5 s to 10 s;
// onDrop runs each time the connection goes.
export function keepConnected(onMessage, onDrop = () => {}) {
  let backoffMs = 500;
  const connect = () => {
    const socket = new WebSocket(socketUrl());
    socket.onopen = () => { backoffMs = 500; };
    socket.onmessage = (event) => onMessage(JSON.parse(event.data));
    socket.onclose = () => {
      onDrop();
      setTimeout(connect, backoffMs);
      backoffMs = Math.min(10000, backoffMs * 2);
    };
  };
  connect();
}
