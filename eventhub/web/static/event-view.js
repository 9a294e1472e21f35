// Draws one event's numbers: key figures, ticket tiers and the sales chart.
// Every value from the API goes in with textContent (or as an SVG attribute), never as markup.

import { renderSalesChart } from "./chart.js";

export const LOCALE = navigator.language || "en-US";
export const EVENT_STATUS = {
  PUBLISHED: ["On sale", "badge-ok"],
  DRAFT: ["Draft", "badge-muted"],
  CANCELLED: ["Cancelled", "badge-bad"],
};
const FIGURES = ["kpi-sold", "kpi-capacity", "kpi-remaining", "kpi-gross", "kpi-net", "kpi-checked-in"];
const TIER_COLUMNS = { "tier-sold": "Sold", "tier-left": "Left", "tier-revenue": "Revenue" };

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- formatting

const numberFormat = new Intl.NumberFormat(LOCALE);
const moneyFormats = new Map();
export const dateFormat = new Intl.DateTimeFormat(LOCALE, { dateStyle: "medium", timeStyle: "short" });
const timeFormat = new Intl.DateTimeFormat(LOCALE, { timeStyle: "medium" });
const count = (n) => numberFormat.format(n);

/** `amount` (a Decimal string) in the event's currency, e.g. "€1,234.50". */
export function money(amount, currency) {
  if (!moneyFormats.has(currency)) {
    try {
      moneyFormats.set(currency, new Intl.NumberFormat(LOCALE, { style: "currency", currency }));
    } catch {
      moneyFormats.set(currency, { format: (n) => `${n.toFixed(2)} ${currency}` });
    }
  }
  return moneyFormats.get(currency).format(Number(amount));
}

function percent(part, whole) {
  return whole ? `${Math.round((part / whole) * 100)}%` : "0%";
}

// ---------------------------------------------------------------- text that changes

/** Set a value; a change (not a first fill) flashes briefly so the eye catches it. */
function setText(id, text, { flash = true } = {}) {
  const node = typeof id === "string" ? $(id) : id;
  node.classList.toggle("is-long", text.length > 9);
  if (node.textContent === text) return;
  const changed = node.textContent !== "–" && node.textContent !== "";
  node.textContent = text;
  if (flash && changed) {
    node.classList.remove("flash");
    void node.offsetWidth; // restart the animation
    node.classList.add("flash");
  }
}

/** A key figure: compact from a million up ("€1.2M"), the exact amount in its tooltip. */
function setMoney(id, amount, currency) {
  const exact = money(amount, currency);
  let shown = exact;
  if (Math.abs(Number(amount)) >= 1e6) {
    try {
      shown = new Intl.NumberFormat(LOCALE, {
        style: "currency", currency, notation: "compact", maximumFractionDigits: 1,
      }).format(Number(amount));
    } catch {
      shown = exact;
    }
  }
  setText(id, shown);
  $(id).title = shown === exact ? "" : exact;
}

// ---------------------------------------------------------------- the event

/** Empty the panel for a newly picked event (no flashes when its numbers arrive). */
export function clearEvent(name) {
  $("event-panel").hidden = false;
  $("event-panel").dataset.live = "";
  $("event-name").textContent = name;
  for (const id of FIGURES) $(id).textContent = "–";
  $("tiers-body").replaceChildren();
  $("chart").replaceChildren();
}

/**
 * Live numbers (`liveSales`, `liveCapacity`, from the subscriptions) win over the last
 * `analytics` query, which alone has tier revenue and the sales-over-time buckets.
 */
export function renderEvent({ analytics: a, liveSales, liveCapacity }) {
  const event = a.event;
  const currency = event.currency;
  const sales = liveSales || a;
  const capacity = liveCapacity || event;
  const tiers = liveCapacity?.ticketTypes || event.ticketTypes;
  // Tells tests (and curious readers of the DOM) which numbers are live-fed.
  $("event-panel").dataset.live = [liveSales && "sales", liveCapacity && "capacity"].filter(Boolean).join(" ");

  $("event-name").textContent = event.name;
  const when = dateFormat.format(new Date(event.startsAt));
  $("event-meta").textContent = [when, event.venue].filter(Boolean).join(" · ");
  const [label, tone] = EVENT_STATUS[event.status] || [event.status, "badge-muted"];
  $("event-status").textContent = label;
  $("event-status").className = `badge ${tone}`;

  setText("kpi-sold", count(sales.ticketsSold));
  const seats = capacity.capacity ?? event.capacity;
  setText("kpi-capacity", count(seats), { flash: false });
  $("kpi-sold-meter").style.width = percent(Math.min(capacity.sold, seats), seats);
  const held = capacity.sold - sales.ticketsSold;
  setText("kpi-sold-note", `${percent(capacity.sold, seats)} of capacity taken`
    + (held > 0 ? ` · ${count(held)} held in pending orders` : ""), { flash: false });

  setText("kpi-remaining", count(capacity.remaining));
  $("kpi-remaining").classList.toggle("is-bad", capacity.remaining === 0);
  setText("kpi-remaining-note", capacity.remaining === 0 ? "Sold out"
    : `across ${tiers.length} ${tiers.length === 1 ? "tier" : "tiers"}`, { flash: false });

  // Live snapshots carry gross, refunds and discounts too; analytics fill in until one arrives.
  setMoney("kpi-gross", (sales.grossRevenue || a.grossRevenue).amount, currency);
  const discounts = Number((sales.discounts || a.discounts).amount);
  setText("kpi-gross-note", discounts ? `${money(discounts, currency)} in discounts` : "Before refunds", { flash: false });
  setMoney("kpi-net", sales.netRevenue.amount, currency);
  const refunds = Number((sales.refunds || a.refunds).amount);
  setText("kpi-net-note", refunds ? `${money(refunds, currency)} refunded` : "After refunds", { flash: false });

  setText("kpi-checked-in", count(sales.checkedIn));
  setText("kpi-checked-in-note", `${percent(sales.checkedIn, sales.ticketsSold)} of tickets sold`, { flash: false });

  renderTiers(tiers, a.byTicketType, currency);
  const at = liveSales?.at || liveCapacity?.at || a.receivedAt;
  $("updated-at").dateTime = at;
  $("updated-at").textContent = timeFormat.format(new Date(at));
}

function renderTiers(tiers, byTicketType, currency) {
  const body = $("tiers-body");
  const revenue = new Map(byTicketType.map((t) => [t.ticketType.id, t.revenue.amount]));
  const existing = new Map([...body.rows].map((row) => [row.dataset.tierId, row]));
  const rows = tiers.map((tier) => {
    const row = existing.get(tier.id) || newTierRow(tier.id);
    row.querySelector(".tier-name").textContent = tier.name;
    row.querySelector(".tier-price").textContent = Number(tier.price.amount)
      ? money(tier.price.amount, currency) : "Free";
    row.querySelector(".meter-fill").style.width = percent(Math.min(tier.sold, tier.limit), tier.limit);
    setText(row.querySelector(".tier-sold"), `${count(tier.sold)} / ${count(tier.limit)}`);
    const left = row.querySelector(".tier-left");
    setText(left, tier.remaining ? count(tier.remaining) : "Sold out");
    left.classList.toggle("is-bad", tier.remaining === 0);
    setText(row.querySelector(".tier-revenue"), money(revenue.get(tier.id) || 0, currency));
    return row;
  });
  // Re-inserting rows would restart their flash animations: only when the tiers changed.
  const sameOrder = rows.length === body.rows.length && rows.every((row, i) => body.rows[i] === row);
  if (!sameOrder) body.replaceChildren(...rows);
}

function newTierRow(id) {
  const row = document.createElement("tr");
  row.dataset.tierId = id;
  const name = document.createElement("th");
  name.scope = "row";
  const title = document.createElement("span");
  title.className = "tier-name";
  const price = document.createElement("span");
  price.className = "tier-price";
  const meter = document.createElement("div");
  meter.className = "meter meter-small";
  meter.setAttribute("aria-hidden", "true");
  const fill = document.createElement("span");
  fill.className = "meter-fill";
  meter.append(fill);
  name.append(title, price, meter);
  const cells = Object.entries(TIER_COLUMNS).map(([className, label]) => {
    const cell = document.createElement("td");
    cell.className = "num";
    cell.dataset.label = label; // shown above the value when the table stacks on a phone
    const value = document.createElement("span");
    value.className = className;
    cell.append(value);
    return cell;
  });
  row.append(name, ...cells);
  return row;
}

/** The sales-over-time chart for the last analytics read, per "hour" or "day". */
export function drawChart(analytics, bucket) {
  const currency = analytics.event.currency;
  const { clipped } = renderSalesChart($("chart"), analytics.salesOverTime, {
    bucket,
    locale: LOCALE,
    formatMoney: (amount) => money(amount, currency),
  });
  const per = bucket === "hour" ? "Tickets sold per hour, your local time" : "Tickets sold per day (UTC)";
  $("chart-caption").textContent = clipped
    ? `${per} · earlier sales are outside this window${bucket === "hour" ? ": switch to Daily" : ""}`
    : per;
}
