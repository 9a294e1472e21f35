// @urql/core 6 at the door: the organizer scans a ticket (VALID), scans it again
// (ALREADY_USED), and reads the event's numbers; errors arrive as CombinedError.
import { Client, fetchExchange, gql } from "@urql/core";
import { GRAPHQL_URL, emit, fail, input } from "./lib.mjs";

const SCAN = gql`
  mutation Scan($eventId: ID!, $token: String!) {
    validateTicket(eventId: $eventId, token: $token) {
      outcome firstCheckedInAt ticket { id status checkedInAt }
    }
  }
`;
const NUMBERS = gql`
  query Numbers($id: ID!) {
    event(id: $id) { id sold remaining }
    myEvents(first: null) { totalCount }
  }
`;

async function main() {
  const client = new Client({
    url: GRAPHQL_URL,
    exchanges: [fetchExchange],
    fetchOptions: { headers: { authorization: `Bearer ${input.organizerToken}` } },
    requestPolicy: "network-only",
  });
  const anonymous = new Client({ url: GRAPHQL_URL, exchanges: [fetchExchange] });
  const variables = { eventId: input.eventId, token: input.qrToken };
  const first = await client.mutation(SCAN, variables).toPromise();
  const second = await client.mutation(SCAN, variables).toPromise();
  const refused = await anonymous.mutation(SCAN, variables).toPromise();
  const numbers = await client.query(NUMBERS, { id: input.eventId }).toPromise();
  if (first.error || second.error || numbers.error) throw first.error ?? second.error ?? numbers.error;
  emit({
    first: first.data.validateTicket,
    second: second.data.validateTicket,
    anonymous: refused.error.graphQLErrors.map((e) => e.extensions.code),
    numbers: numbers.data,
  });
}

main().catch(fail);
