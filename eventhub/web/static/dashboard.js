// EventHub organizer dashboard: sign in, pick an event, watch its sales live.
// Queries go over HTTP; live numbers come from the salesUpdated and capacityChanged
// subscriptions (graphql-transport-ws), and the slower analytics query is re-read
// at most once a second while sales move.

import {
  ANALYTICS, ApiError, CAPACITY_CHANGED, LOGIN, LOGOUT, MY_EVENTS, SALES_UPDATED, createApi,
} from "./api.js";
import { EVENT_STATUS, clearEvent, dateFormat, drawChart, renderEvent } from "./event-view.js";
import { createClient } from "./graphql-ws.js";

const STORAGE_KEY = "eventhub.dashboard";
const ANALYTICS_INTERVAL_MS = 1000;

const STATUS_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  offline: "Not connected",
  expired: "Session expired",
};

const $ = (id) => document.getElementById(id);
const state = {
  session: null, // {token, expiresAt, email, name}
  lastEmail: null, // who was signed in before the session expired
  refreshToken: null, // memory only: used to revoke the session on sign-out
  client: null,
  expiryTimer: 0,
  events: [],
  eventId: null,
  bucket: "hour",
  generation: 0, // bumps on every event switch; stale answers are dropped
  analyticsAsked: 0, // analytics reads sent / applied: an older answer never replaces a newer one
  analyticsApplied: 0,
  analytics: null,
  liveSales: null,
  liveCapacity: null,
  unsubscribe: [],
};

const gql = createApi({ token: () => state.session?.token, onUnauthenticated: () => expireSession() });

// ---------------------------------------------------------------- session

function saveSession() {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ ...state.session, eventId: state.eventId }));
}

function restoreSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    if (saved?.token && saved.expiresAt > Date.now()) return saved;
    if (saved?.email) $("login-email").value = saved.email;
  } catch {
    sessionStorage.removeItem(STORAGE_KEY);
  }
  return null;
}

async function signIn(email, password) {
  const data = await gql(LOGIN, { email, password }, { auth: false });
  const payload = data.login;
  if (payload.errors.length) {
    const error = payload.errors[0];
    throw new ApiError(error.code === "INVALID_CREDENTIALS"
      ? "That email and password do not match an account." : error.message, error.code);
  }
  if (!payload.user.roles.includes("ORGANIZER")) {
    throw new ApiError("This account is not an organizer account, so it has no events to follow.", "FORBIDDEN");
  }
  const previous = state.session?.email || state.lastEmail;
  state.refreshToken = payload.refreshToken;
  state.session = {
    token: payload.accessToken,
    expiresAt: Date.parse(payload.accessTokenExpiresAt) || Date.now() + 15 * 60e3,
    email: payload.user.email,
    name: payload.user.name,
  };
  if (previous && previous !== payload.user.email) state.eventId = null;
  saveSession();
}

function expireSession() {
  if (!state.session) return;
  stopLive();
  const email = state.session.email;
  state.lastEmail = email;
  state.session = null;
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ email, eventId: state.eventId }));
  setConnection("expired");
  showLogin("Your session has expired. Sign in again to keep the numbers live.");
  $("login-email").value = email;
  $("login-password").focus();
}

async function signOut() {
  const token = state.refreshToken;
  stopLive();
  if (token) gql(LOGOUT, { token }, { auth: false }).catch(() => {});
  state.session = state.refreshToken = null;
  state.eventId = null;
  sessionStorage.removeItem(STORAGE_KEY);
  setConnection("offline");
  showLogin("You are signed out.");
}

function stopLive() {
  clearTimeout(state.expiryTimer);
  state.unsubscribe.forEach((end) => end());
  state.unsubscribe = [];
  state.client?.dispose();
  state.client = null;
}

// ---------------------------------------------------------------- views

function showLogin(notice) {
  $("dashboard-view").hidden = true;
  $("login-view").hidden = false;
  $("sign-out").hidden = true;
  $("signed-in-as").hidden = true;
  $("login-notice").hidden = !notice;
  $("login-notice").textContent = notice || "";
  $("login-password").value = "";
}

function showBanner(message) {
  $("dashboard-error").hidden = !message;
  $("dashboard-error").textContent = message || "";
}

function setConnection(kind, detail) {
  const seconds = detail?.delay ? ` in ${Math.max(1, Math.round(detail.delay / 1000))} s` : "";
  $("connection").dataset.state = kind;
  $("connection-text").textContent = kind === "reconnecting" ? `Reconnecting${seconds}…` : STATUS_TEXT[kind];
}

async function startDashboard() {
  $("login-view").hidden = true;
  $("dashboard-view").hidden = false;
  $("sign-out").hidden = false;
  $("signed-in-as").hidden = false;
  $("signed-in-as").textContent = state.session.name || state.session.email;
  showBanner("");
  const wait = state.session.expiresAt - Date.now();
  state.expiryTimer = setTimeout(expireSession, Math.min(Math.max(wait, 0), 2 ** 31 - 1));
  state.client = createClient({
    url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`,
    connectionParams: () => ({ authorization: `Bearer ${state.session?.token}` }),
    onStatus: setConnection,
    onAuthError: expireSession,
  });
  try {
    await loadEvents();
  } catch (error) {
    if (error.code !== "UNAUTHENTICATED") showBanner(error.message);
  }
}

async function loadEvents() {
  const events = [];
  let after = null;
  do {
    const page = (await gql(MY_EVENTS, { after })).myEvents;
    events.push(...page.edges.map((edge) => edge.node));
    after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
  } while (after);
  state.events = events;
  const select = $("event-select");
  select.replaceChildren(...events.map((event) => {
    const option = document.createElement("option");
    option.value = event.id;
    const label = EVENT_STATUS[event.status]?.[0];
    option.textContent = `${event.name} — ${dateFormat.format(new Date(event.startsAt))}`
      + (event.status === "PUBLISHED" ? "" : ` (${label || event.status})`);
    return option;
  }));
  select.disabled = !events.length;
  $("no-events").hidden = events.length > 0;
  if (!events.length) {
    $("event-panel").hidden = true;
    setConnection("offline");
    return;
  }
  const wanted = events.some((e) => e.id === state.eventId) ? state.eventId : events[0].id;
  select.value = wanted;
  selectEvent(wanted);
}

// ---------------------------------------------------------------- one event, live

function selectEvent(eventId) {
  state.generation += 1;
  state.unsubscribe.forEach((end) => end());
  state.eventId = eventId;
  state.analytics = state.liveSales = state.liveCapacity = null;
  saveSession();
  showBanner("");
  clearEvent(state.events.find((e) => e.id === eventId)?.name || "");
  const generation = state.generation;
  const live = (key) => ({
    next: (data) => {
      if (generation !== state.generation) return;
      state[key] = Object.values(data)[0];
      if (key === "liveSales" && salesMoved()) refreshAnalytics();
      render();
    },
    error: (errors) => generation === state.generation
      && showBanner(`Live updates stopped: ${errors[0]?.message || "unknown error"}`),
  });
  state.unsubscribe = [
    state.client.subscribe({ query: SALES_UPDATED, variables: { id: eventId } }, live("liveSales")),
    state.client.subscribe({ query: CAPACITY_CHANGED, variables: { id: eventId } }, live("liveCapacity")),
  ];
  loadAnalytics();
}

/** Whether the live totals differ from the last analytics read (so gross and the chart are stale). */
function salesMoved() {
  const a = state.analytics;
  const s = state.liveSales;
  return !a || a.ticketsSold !== s.ticketsSold || Number(a.netRevenue.amount) !== Number(s.netRevenue.amount);
}

/** Read analytics now (a user's choice); live changes go through `refreshAnalytics` instead. */
async function loadAnalytics() {
  const generation = state.generation;
  const asked = ++state.analyticsAsked;
  if (!state.session || !state.eventId) return;
  try {
    const data = await gql(ANALYTICS, { id: state.eventId, bucket: state.bucket });
    if (generation !== state.generation || asked < state.analyticsApplied) return;
    state.analyticsApplied = asked;
    state.analytics = data.eventAnalytics;
    state.analytics.receivedAt = new Date().toISOString();
    render();
    redrawChart();
  } catch (error) {
    if (generation === state.generation && error.code !== "UNAUTHENTICATED") showBanner(error.message);
  }
}

/** Run `task` at once when idle, else at most once per `interval` (the last call always runs). */
function throttle(task, interval) {
  let last = 0;
  let timer = 0;
  let running = false;
  let again = false;
  async function run() {
    timer = 0;
    running = true;
    last = Date.now();
    try {
      await task();
    } finally {
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  }
  function schedule() {
    if (running) again = true;
    else if (!timer) timer = setTimeout(run, Math.max(0, last + interval - Date.now()));
  }
  return schedule;
}

const refreshAnalytics = throttle(loadAnalytics, ANALYTICS_INTERVAL_MS);

function render() {
  if (state.analytics) renderEvent(state);
}

function redrawChart() {
  if (state.analytics) drawChart(state.analytics, state.bucket);
}

// ---------------------------------------------------------------- wiring

function wire() {
  $("login-form").addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const email = $("login-email");
    const password = $("login-password");
    const error = $("login-error");
    const missing = [email, password].find((input) => !input.value.trim());
    [email, password].forEach((input) => input.removeAttribute("aria-invalid"));
    if (missing) {
      missing.setAttribute("aria-invalid", "true");
      error.textContent = missing === email ? "Enter your email address." : "Enter your password.";
      error.hidden = false;
      missing.focus();
      return;
    }
    const button = $("login-submit");
    button.disabled = true;
    button.textContent = "Signing in…";
    error.hidden = true;
    try {
      await signIn(email.value.trim(), password.value);
      password.value = "";
      await startDashboard();
    } catch (problem) {
      error.textContent = problem.message;
      error.hidden = false;
      if (problem.code === "INVALID_CREDENTIALS") password.setAttribute("aria-invalid", "true");
      password.select();
    } finally {
      button.disabled = false;
      button.textContent = "Sign in";
    }
  });
  $("sign-out").addEventListener("click", signOut);
  $("event-select").addEventListener("change", (change) => selectEvent(change.target.value));
  for (const button of document.querySelectorAll(".segment")) {
    button.addEventListener("click", () => {
      if (state.bucket === button.dataset.bucket) return;
      state.bucket = button.dataset.bucket;
      document.querySelectorAll(".segment").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
      loadAnalytics();
    });
  }
  let resizeFrame = 0;
  let chartWidth = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(resizeFrame);
    resizeFrame = requestAnimationFrame(() => {
      const width = $("chart").clientWidth;
      if (width !== chartWidth) {
        chartWidth = width;
        redrawChart();
      }
    });
  });
  window.addEventListener("online", () => state.client?.retryNow());
}

function boot() {
  wire();
  const saved = restoreSession();
  if (saved) {
    state.session = { token: saved.token, expiresAt: saved.expiresAt, email: saved.email, name: saved.name };
    state.eventId = saved.eventId || null;
    startDashboard();
  } else {
    const previous = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    state.eventId = previous?.eventId || null;
    state.lastEmail = previous?.email || null;
    showLogin(previous?.email ? "Your session has expired. Sign in again to keep the numbers live." : "");
    $("login-email").focus();
  }
}

boot();
