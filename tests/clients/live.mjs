// graphql-ws 6 (the reference client) as an organizer's live dashboard: it subscribes to
// salesUpdated with a short-lived token; when the token expires the server closes the
// socket with 4403, the client reconnects on its own, asking connectionParams again, which
// rotates the refresh token for a fresh access token, and the subscription goes on: a
// booking made after the reconnect still arrives.
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { GRAPHQL_URL, emit, fail } from "./lib.mjs";

const WS_URL = GRAPHQL_URL.replace(/^http/, "ws");
const WAIT_MS = 45_000;

async function post(query, variables, token) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(GRAPHQL_URL, {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

async function signUp(asOrganizer) {
  const { register } = await post(
    `mutation($input: RegisterInput!) {
       register(input: $input) { accessToken refreshToken errors { code message } }
     }`,
    {
      input: {
        email: `live-${asOrganizer ? "org" : "buyer"}-${Date.now()}@example.com`,
        password: "correct-horse-battery",
        name: "Live",
        asOrganizer,
      },
    },
  );
  if (register.errors.length) throw new Error(JSON.stringify(register.errors));
  return register;
}

async function openEvent(token) {
  const startsAt = new Date(Date.now() + 30 * 24 * 3600 * 1000).toISOString();
  const { createEvent } = await post(
    `mutation($input: CreateEventInput!) {
       createEvent(input: $input) { event { id ticketTypes { id } } errors { code message } }
     }`,
    {
      input: {
        name: "Live Conf",
        startsAt,
        capacity: 50,
        currency: "EUR",
        ticketTypes: [{ name: "Regular", price: "10.00", limit: 50 }],
      },
    },
    token,
  );
  if (createEvent.errors.length) throw new Error(JSON.stringify(createEvent.errors));
  await post(`mutation($id: ID!) { publishEvent(id: $id) { errors { code } } }`, {
    id: createEvent.event.id,
  }, token);
  return createEvent.event;
}

/** Resolves once `check()` holds, polling; rejects after WAIT_MS with what was seen. */
function until(check, what, seen) {
  const deadline = Date.now() + WAIT_MS;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (check()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(seen)}`));
      setTimeout(tick, 50);
    };
    tick();
  });
}

async function main() {
  const organizer = await signUp(true);
  const event = await openEvent(organizer.accessToken);
  const seen = { closes: [], connected: 0, tokensSent: [], sold: [], errors: [] };
  let session = { access: organizer.accessToken, refresh: organizer.refreshToken };

  const client = createClient({
    url: WS_URL,
    webSocketImpl: WebSocket,
    retryAttempts: 5,
    retryWait: () => new Promise((resolve) => setTimeout(resolve, 200)),
    connectionParams: async () => {
      if (seen.tokensSent.length > 0) {
        const { refreshToken } = await post(
          `mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken errors { code } } }`,
          { t: session.refresh },
        );
        session = { access: refreshToken.accessToken, refresh: refreshToken.refreshToken };
      }
      seen.tokensSent.push(session.access);
      return { authorization: `Bearer ${session.access}` };
    },
    on: {
      connected: () => { seen.connected += 1; },
      closed: (closeEvent) => { seen.closes.push(closeEvent.code); },
    },
  });

  client.subscribe(
    { query: `subscription($id: ID!) { salesUpdated(eventId: $id) { ticketsSold } }`, variables: { id: event.id } },
    {
      next: (result) => {
        if (result.errors) seen.errors.push(result.errors);
        else seen.sold.push(result.data.salesUpdated.ticketsSold);
      },
      error: (error) => seen.errors.push(String(error?.code ?? error)),
      complete: () => {},
    },
  );

  await until(() => seen.connected >= 1 && seen.sold.length >= 1, "the first snapshot", seen);
  await until(() => seen.closes.includes(4403) && seen.connected >= 2, "4403 and a reconnect", seen);
  const buyer = await signUp(false);
  const { reserveTickets } = await post(
    `mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) { order { status } errors { code } } }`,
    { input: { eventId: event.id, items: [{ ticketTypeId: event.ticketTypes[0].id, quantity: 2 }] } },
    buyer.accessToken,
  );
  await until(() => seen.sold.includes(2), "the sale after the reconnect", seen);
  await client.dispose();
  emit({
    closes: seen.closes,
    connected: seen.connected,
    distinctTokens: new Set(seen.tokensSent).size,
    tokensSent: seen.tokensSent.length,
    sold: seen.sold,
    errors: seen.errors,
    orderStatus: reserveTickets.order?.status ?? null,
  });
}

main().catch(fail);
