// Apollo Client 4 as a first-party app built with trusted documents: `manifest` prints
// the persisted-documents manifest of its operations (what a build step emits for
// `eventhub documents add`); otherwise it runs them by hash alone, and shows that a
// document outside the manifest is refused.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { print } from "graphql";
import { GRAPHQL_URL, emit, fail, input, recordingFetch, sha256 } from "./lib.mjs";

const BROWSE = gql`
  query TrustedBrowse($first: Int) { events(first: $first) { totalCount } }
`;
const NOT_IN_MANIFEST = gql`
  query Improvised { events(first: 1) { edges { node { id } } } }
`;
const SHIPPED = [BROWSE];

function codesOf(error) {
  if (Array.isArray(error?.errors)) return error.errors.map((e) => e.extensions?.code);
  try {
    return JSON.parse(error?.bodyText ?? "").errors.map((e) => e.extensions?.code);
  } catch {
    return [String(error?.name ?? error)];
  }
}

async function main() {
  if (input.mode === "manifest") {
    // As Apollo's manifest generator does: the text the client sends, after the cache's
    // own transforms (it adds __typename), is what gets hashed.
    const cache = new InMemoryCache();
    const sent = SHIPPED.map((doc) => print(cache.transformDocument(doc)));
    emit(Object.fromEntries(sent.map((text) => [sha256(text), text])));
    return;
  }
  const log = [];
  const link = new PersistedQueryLink({ sha256 }).concat(
    new HttpLink({ uri: GRAPHQL_URL, fetch: recordingFetch(log) }),
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  const browse = await client.query({ query: BROWSE, variables: { first: null } });
  let refused = null;
  try {
    await client.query({ query: NOT_IN_MANIFEST });
  } catch (error) {
    refused = { name: error.name, codes: codesOf(error) };
  }
  emit({ browse: browse.data.events, refused, requests: log });
}

main().catch(fail);
