// A small graphql-transport-ws client: one socket, many subscriptions.
// connection_init (with the caller's payload) -> connection_ack -> subscribe/next/error/complete;
// answers pings, sends its own to notice a dead link, reconnects with backoff and resubscribes.

const PROTOCOL = "graphql-transport-ws";
const ACK_TIMEOUT_MS = 10000;
const PING_EVERY_MS = 20000;
const PONG_TIMEOUT_MS = 8000;
const MAX_BACKOFF_MS = 30000;

/**
 * @param {{url: string, connectionParams: () => object,
 *          onStatus?: (state: string, detail?: object) => void, onAuthError?: () => void}} options
 */
export function createClient({ url, connectionParams, onStatus = () => {}, onAuthError = () => {} }) {
  const subscriptions = new Map(); // id -> {payload, sink}
  let socket = null;
  let acknowledged = false;
  let attempt = 0;
  let nextId = 1;
  let disposed = false;
  const timers = { retry: 0, ack: 0, ping: 0, pong: 0 };

  const send = (message) => socket?.readyState === WebSocket.OPEN && socket.send(JSON.stringify(message));
  const clearTimers = (...names) => names.forEach((name) => { clearTimeout(timers[name]); timers[name] = 0; });

  function connect() {
    clearTimers("retry");
    if (socket || disposed) return;
    onStatus(attempt ? "reconnecting" : "connecting");
    const ws = new WebSocket(url, PROTOCOL);
    socket = ws;
    ws.onopen = () => {
      send({ type: "connection_init", payload: connectionParams() });
      timers.ack = setTimeout(() => drop(ws, 4408), ACK_TIMEOUT_MS);
    };
    ws.onmessage = (event) => receive(ws, event.data);
    ws.onclose = (event) => drop(ws, event.code);
  }

  function receive(ws, data) {
    let message;
    try { message = JSON.parse(data); } catch { return drop(ws, 4400); }
    const entry = subscriptions.get(message.id);
    switch (message.type) {
      case "connection_ack":
        clearTimers("ack");
        acknowledged = true;
        attempt = 0;
        onStatus("live");
        subscriptions.forEach((sub, id) => send({ id, type: "subscribe", payload: sub.payload }));
        schedulePing(ws);
        break;
      case "ping":
        send({ type: "pong" });
        break;
      case "pong":
        clearTimers("pong");
        schedulePing(ws);
        break;
      case "next":
        if (!entry) break;
        if (message.payload?.errors?.length) fail(message.id, entry, message.payload.errors);
        else entry.sink.next(message.payload.data);
        break;
      case "error":
        if (entry) fail(message.id, entry, message.payload);
        break;
      case "complete": // the server ended a stream nobody asked to end: ask again shortly
        if (entry) setTimeout(() => subscriptions.get(message.id) === entry && acknowledged
          && send({ id: message.id, type: "subscribe", payload: entry.payload }), 1000);
        break;
      default:
        drop(ws, 4400);
    }
  }

  function fail(id, entry, errors) {
    subscriptions.delete(id);
    send({ id, type: "complete" });
    const list = Array.isArray(errors) ? errors : [errors];
    if (list.some((e) => e?.extensions?.code === "UNAUTHENTICATED")) onAuthError();
    else entry.sink.error(list);
  }

  function schedulePing(ws) {
    clearTimers("ping");
    timers.ping = setTimeout(() => {
      send({ type: "ping" });
      timers.pong = setTimeout(() => drop(ws, 4504), PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  // Forget a socket (closed, silent or misbehaving) and plan the next attempt.
  function drop(ws, code) {
    if (ws !== socket) return;
    socket = null;
    acknowledged = false;
    clearTimers("ack", "ping", "pong");
    ws.onopen = ws.onmessage = ws.onclose = null;
    if (ws.readyState <= WebSocket.OPEN) ws.close(1000);
    if (disposed) return onStatus("offline");
    if (code === 4403) { onStatus("expired"); return onAuthError(); } // connection_init refused
    const delay = Math.round(Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt) * (0.5 + Math.random() / 2));
    attempt += 1;
    onStatus("reconnecting", { delay });
    timers.retry = setTimeout(connect, delay);
  }

  return {
    /** Start (or keep) a subscription; returns the function that ends it. */
    subscribe(payload, sink) {
      const id = String(nextId++);
      subscriptions.set(id, { payload, sink });
      if (acknowledged) send({ id, type: "subscribe", payload });
      else connect();
      return () => {
        if (subscriptions.delete(id) && acknowledged) send({ id, type: "complete" });
      };
    },
    /** Skip the backoff wait, e.g. when the browser comes back online. */
    retryNow() {
      if (timers.retry) connect();
    },
    dispose() {
      disposed = true;
      subscriptions.clear();
      clearTimers("retry");
      if (socket) drop(socket, 1000);
      else onStatus("offline");
    },
  };
}
