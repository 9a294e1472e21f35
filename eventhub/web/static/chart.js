// Sales over time as an inline SVG bar chart: one bar per hour or day (UTC buckets).
// Built with DOM calls only, so nothing from the API is ever parsed as markup.

const SVG = "http://www.w3.org/2000/svg";
const STEP_MS = { hour: 3600e3, day: 86400e3 };
const WINDOW = { hour: { min: 24, max: 168 }, day: { min: 14, max: 366 } };

function el(name, attributes = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Contiguous slots from the first sale (within the window) to the current bucket. */
export function slotsFor(buckets, bucket, now = Date.now()) {
  const step = STEP_MS[bucket];
  const { min, max } = WINDOW[bucket];
  const last = Math.floor(now / step) * step;
  const byStart = new Map();
  for (const b of buckets) {
    const start = Math.floor(Date.parse(b.start) / step) * step;
    const slot = byStart.get(start) || { tickets: 0, revenue: 0 };
    slot.tickets += b.ticketsSold;
    slot.revenue += Number(b.revenue.amount);
    byStart.set(start, slot);
  }
  const firstSale = Math.min(last, ...byStart.keys());
  const count = Math.min(max, Math.max(min, Math.round((last - firstSale) / step) + 1));
  const slots = [];
  for (let i = count - 1; i >= 0; i -= 1) {
    const start = last - i * step;
    slots.push({ start, ...(byStart.get(start) || { tickets: 0, revenue: 0 }) });
  }
  const shown = slots.reduce((n, s) => n + s.tickets, 0);
  const total = [...byStart.values()].reduce((n, s) => n + s.tickets, 0);
  return { slots, clipped: shown < total, total };
}

/** The top of the y axis: four whole-number steps of 1, 2 or 5 times a power of ten. */
function niceMax(value) {
  const rough = Math.max(1, value / 4);
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].find((m) => m * magnitude >= rough) * magnitude;
  return step * 4;
}

/**
 * Draw into `container` (replacing what was there).
 * @param {{bucket: "hour"|"day", formatMoney: (n: number) => string, locale?: string}} options
 */
export function renderSalesChart(container, buckets, { bucket, formatMoney, locale }) {
  const { slots, clipped, total } = slotsFor(buckets, bucket);
  const style = getComputedStyle(container);
  const inner = container.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const width = Math.max(280, Math.floor(inner || 600));
  const height = width < 520 ? 190 : 240;
  const margin = { top: 12, right: 18, bottom: 26, left: 38 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const peak = niceMax(Math.max(...slots.map((s) => s.tickets)));
  const slotW = plotW / slots.length;
  const barW = Math.max(1, Math.min(32, slotW * 0.72));
  const y = (v) => margin.top + plotH - (v / peak) * plotH;
  const label = new Intl.DateTimeFormat(locale, bucket === "hour"
    ? { hour: "numeric" }
    : { month: "short", day: "numeric", timeZone: "UTC" });
  const full = new Intl.DateTimeFormat(locale, bucket === "hour"
    ? { weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }
    : { weekday: "short", month: "short", day: "numeric", year: "numeric", timeZone: "UTC" });

  const svg = el("svg", {
    class: "chart-svg", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "data-total-tickets": total, "data-bars": slots.filter((s) => s.tickets > 0).length,
  });
  const unit = bucket === "hour" ? "hour" : "day";
  svg.append(el("title", {}, `Tickets sold per ${unit}: ${total} in total`));

  for (let i = 0; i <= 4; i += 1) {
    const value = (peak / 4) * i;
    svg.append(el("line", { class: "chart-grid", x1: margin.left, x2: width - margin.right, y1: y(value), y2: y(value) }));
    svg.append(el("text", { class: "chart-axis", x: margin.left - 6, y: y(value) + 4, "text-anchor": "end" },
      new Intl.NumberFormat(locale).format(value)));
  }

  const every = Math.max(1, Math.ceil(64 / slotW));
  slots.forEach((slot, i) => {
    const cx = margin.left + slotW * (i + 0.5);
    if ((slots.length - 1 - i) % every === 0) {
      svg.append(el("text", { class: "chart-axis", x: cx, y: height - 8, "text-anchor": "middle" },
        label.format(slot.start)));
    }
    if (!slot.tickets) return;
    const bar = el("rect", {
      class: "chart-bar", x: cx - barW / 2, y: y(slot.tickets), width: barW,
      height: Math.max(1, margin.top + plotH - y(slot.tickets)), rx: Math.min(3, barW / 3),
    });
    const noun = slot.tickets === 1 ? "ticket" : "tickets";
    bar.append(el("title", {}, `${full.format(slot.start)}: ${slot.tickets} ${noun}, ${formatMoney(slot.revenue)}`));
    svg.append(bar);
  });

  if (!total) {
    svg.append(el("text", { class: "chart-empty", x: margin.left + plotW / 2, y: margin.top + plotH / 2, "text-anchor": "middle" },
      "No sales yet"));
  }
  svg.append(el("line", { class: "chart-baseline", x1: margin.left, x2: width - margin.right, y1: y(0), y2: y(0) }));
  container.replaceChildren(svg);
  return { clipped, total };
}
