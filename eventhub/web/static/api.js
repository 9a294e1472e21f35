// GraphQL over HTTP for the dashboard, and every document it sends (HTTP and WebSocket).

export const LOGIN = `mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) {
    accessToken refreshToken accessTokenExpiresAt
    user { id email name roles }
    errors { code message field }
  }
}`;
export const LOGOUT = "mutation Logout($token: String!) { logout(refreshToken: $token) }";
export const MY_EVENTS = `query MyEvents($after: String) {
  myEvents(first: 100, after: $after) {
    edges { node { id name status startsAt currency } }
    pageInfo { hasNextPage endCursor }
  }
}`;
export const ANALYTICS = `query Dashboard($id: ID!, $bucket: String!) {
  eventAnalytics(eventId: $id) {
    event {
      id name status startsAt endsAt venue capacity sold remaining currency
      ticketTypes { id name limit sold remaining price { amount currency } }
    }
    ticketsSold checkedIn
    grossRevenue { amount currency } netRevenue { amount currency }
    discounts { amount } refunds { amount }
    byTicketType { ticketType { id } sold revenue { amount } }
    salesOverTime(bucket: $bucket) { start ticketsSold revenue { amount } }
  }
}`;
export const SALES_UPDATED = `subscription Sales($id: ID!) {
  salesUpdated(eventId: $id) {
    eventId ticketsSold checkedIn at netRevenue { amount currency }
    grossRevenue { amount currency } refunds { amount } discounts { amount }
  }
}`;
export const CAPACITY_CHANGED = `subscription Capacity($id: ID!) {
  capacityChanged(eventId: $id) {
    eventId sold remaining capacity at
    ticketTypes { id name limit sold remaining price { amount currency } }
  }
}`;

export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

/**
 * `request(query, variables, {auth})` resolves to `data` or throws an ApiError whose code is the
 * GraphQL error's extensions.code (or NETWORK / HTTP). An authenticated request refused as
 * UNAUTHENTICATED also calls `onUnauthenticated`: the token expired or was revoked.
 * @param {{token: () => string | null, onUnauthenticated: () => void}} options
 */
export function createApi({ token, onUnauthenticated }) {
  return async function request(query, variables = {}, { auth = true } = {}) {
    const headers = { "content-type": "application/json", accept: "application/json" };
    const bearer = auth ? token() : null;
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    let response;
    try {
      response = await fetch("/graphql", { method: "POST", headers, body: JSON.stringify({ query, variables }) });
    } catch {
      throw new ApiError("Cannot reach the server. Check your connection and try again.", "NETWORK");
    }
    const body = await response.json().catch(() => null);
    const error = body?.errors?.[0];
    if (error) {
      const code = error.extensions?.code || "ERROR";
      if (auth && code === "UNAUTHENTICATED") onUnauthenticated();
      throw new ApiError(error.message || "The request failed.", code);
    }
    if (!response.ok || !body?.data) throw new ApiError(`The server answered ${response.status}.`, "HTTP");
    return body.data;
  };
}
