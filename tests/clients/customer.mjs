// Apollo Client 4 as a customer: browse, sign up, book with a promo code, pay (offline
// provider: paid at once), fetch the ticket's QR code. Links: the automatic persisted
// query link (POST, then GET for hashed queries) and the batch link.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { BatchHttpLink } from "@apollo/client/link/batch-http";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { BASE_URL, GRAPHQL_URL, emit, fail, input, recordingFetch, sha256 } from "./lib.mjs";

const BROWSE = gql`
  query Browse($first: Int) {
    events(first: $first) { totalCount edges { node { id name venue remaining } } }
  }
`;
const REGISTER = gql`
  mutation Register($input: RegisterInput!) {
    register(input: $input) { accessToken user { id roles } errors { code message } }
  }
`;
const BOOK = gql`
  mutation Book($input: ReserveTicketsInput!) {
    reserveTickets(input: $input) {
      order {
        id status promoCode
        subtotal { amount currency } discount { amount } total { amount currency }
        payment { provider status }
        tickets { id status qrToken qrSvgUrl }
      }
      errors { code message field }
    }
  }
`;
const EVENT = gql`
  query Event($id: ID!) { event(id: $id) { id sold remaining } }
`;
const MY_ORDERS = gql`
  query MyOrders { myOrders(first: 5) { totalCount edges { node { id status } } } }
`;
const KEYS = gql`
  query Keys { ticketVerificationKeys }
`;

function apqClient(log, { token, useGET = false } = {}) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const http = new HttpLink({ uri: GRAPHQL_URL, headers, fetch: recordingFetch(log) });
  const persisted = new PersistedQueryLink({ sha256, useGETForHashedQueries: useGET });
  return new ApolloClient({ link: persisted.concat(http), cache: new InMemoryCache() });
}

function batchClient(log, token) {
  const link = new BatchHttpLink({
    uri: GRAPHQL_URL,
    headers: { authorization: `Bearer ${token}` },
    fetch: recordingFetch(log),
    batchMax: 10,
    batchInterval: 20,
  });
  return new ApolloClient({ link, cache: new InMemoryCache() });
}

async function main() {
  const apq = [];
  const anonymous = apqClient(apq);
  const browse = await anonymous.query({ query: BROWSE, variables: { first: null } });
  const again = await apqClient(apq).query({ query: BROWSE, variables: { first: null } });

  const email = `customer-${Date.now()}@example.com`;
  const signUp = await anonymous.mutate({
    mutation: REGISTER,
    variables: { input: { email, password: "correct-horse-battery", name: "Cara Customer" } },
  });
  const token = signUp.data.register.accessToken;
  const customer = apqClient(apq, { token });
  const booked = await customer.mutate({
    mutation: BOOK,
    variables: {
      input: {
        eventId: input.eventId,
        items: [{ ticketTypeId: input.tierId, quantity: 2 }],
        promoCode: "early25",
        idempotencyKey: `node-${Date.now()}`,
      },
    },
  });
  const order = booked.data.reserveTickets.order;
  const qr = await fetch(new URL(order.tickets[0].qrSvgUrl, BASE_URL), {
    headers: { authorization: `Bearer ${token}` },
  });
  const svg = await qr.text();

  const get = [];
  const byGet = apqClient(get, { token, useGET: true });
  await byGet.query({ query: EVENT, variables: { id: input.eventId } });
  const eventByGet = await apqClient(get, { token, useGET: true }).query({
    query: EVENT,
    variables: { id: input.eventId },
  });

  const batched = [];
  const batch = batchClient(batched, token);
  const [event, orders, keys] = await Promise.all([
    batch.query({ query: EVENT, variables: { id: input.eventId } }),
    batch.query({ query: MY_ORDERS }),
    batch.query({ query: KEYS }),
  ]);

  emit({
    browse: browse.data.events,
    browseAgain: again.data.events,
    bookErrors: booked.data.reserveTickets.errors,
    order,
    qr: { status: qr.status, type: qr.headers.get("content-type"), svg: svg.slice(0, 200) },
    eventByGet: eventByGet.data.event,
    batched: {
      event: event.data.event,
      orders: orders.data.myOrders,
      keys: JSON.parse(keys.data.ticketVerificationKeys),
    },
    requests: { apq, get, batched },
  });
}

main().catch(fail);
