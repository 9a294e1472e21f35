// graphql-request 7 as an organizer: sign up, create an event with tiers and a promo
// code, publish it; a role it lacks comes back as a GraphQL error with its code.
import { ClientError, GraphQLClient, gql } from "graphql-request";
import { GRAPHQL_URL, emit, fail } from "./lib.mjs";

const REGISTER = gql`
  mutation Register($input: RegisterInput!) {
    register(input: $input) { accessToken user { id roles } errors { code message } }
  }
`;
const CREATE_EVENT = gql`
  mutation CreateEvent($input: CreateEventInput!) {
    createEvent(input: $input) {
      event { id name status ticketTypes { id name price { amount currency } } }
      errors { code message field }
    }
  }
`;
const PUBLISH = gql`
  mutation Publish($id: ID!) { publishEvent(id: $id) { event { id status } errors { code } } }
`;
const EVERYONE = gql`
  query Users { users(first: 5) { totalCount } }
`;
const BROWSE = gql`
  query Browse($first: Int) { events(first: $first) { totalCount edges { node { id name } } } }
`;

async function main() {
  const anonymous = new GraphQLClient(GRAPHQL_URL);
  const email = `organizer-${Date.now()}@example.com`;
  const signedUp = await anonymous.request(REGISTER, {
    input: { email, password: "correct-horse-battery", name: "Olga Organizer", asOrganizer: true },
  });
  const token = signedUp.register.accessToken;
  const organizer = new GraphQLClient(GRAPHQL_URL, { headers: { authorization: `Bearer ${token}` } });
  const startsAt = new Date(Date.now() + 30 * 24 * 3600 * 1000).toISOString();
  const created = await organizer.request(CREATE_EVENT, {
    input: {
      name: "Node Conf",
      venue: "Hall A",
      startsAt,
      capacity: 100,
      currency: "EUR",
      ticketTypes: [{ name: "Regular", price: "100.00", limit: 80 }],
      promoCodes: [{ code: "EARLY25", kind: "PERCENT", value: "25", maxUses: 10 }],
    },
  });
  const event = created.createEvent.event;
  const published = await organizer.request(PUBLISH, { id: event.id });
  let forbidden = null;
  try {
    await organizer.request(EVERYONE);
  } catch (error) {
    if (!(error instanceof ClientError)) throw error;
    forbidden = error.response.errors[0].extensions.code;
  }
  const browsed = await anonymous.request(BROWSE, { first: null });
  emit({
    token,
    roles: signedUp.register.user.roles,
    event,
    createErrors: created.createEvent.errors,
    status: published.publishEvent.event.status,
    forbidden,
    browsed: browsed.events,
  });
}

main().catch(fail);
