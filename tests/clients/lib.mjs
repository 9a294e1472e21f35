// Shared by the client scripts: where the server is, a fetch that records what
// each client really sent, and one JSON line of results on stdout for pytest.
import { createHash } from "node:crypto";

export const BASE_URL = process.env.EVENTHUB_URL ?? "http://127.0.0.1:8000";
export const GRAPHQL_URL = `${BASE_URL}/graphql`;
export const input = JSON.parse(process.env.EVENTHUB_INPUT ?? "{}");

export const sha256 = (text) => createHash("sha256").update(text).digest("hex");

/** A fetch that logs each request: method, how many operations, which carried query text. */
export function recordingFetch(log) {
  return async (resource, init = {}) => {
    const url = new URL(typeof resource === "string" ? resource : resource.url);
    const method = (init.method ?? "GET").toUpperCase();
    let operations;
    if (method === "GET") {
      operations = [Object.fromEntries(url.searchParams)];
    } else {
      const body = JSON.parse(init.body);
      operations = Array.isArray(body) ? body : [body];
    }
    const response = await fetch(resource, init);
    log.push({
      method,
      status: response.status,
      operations: operations.map((op) => ({
        name: op.operationName ?? null,
        withQuery: typeof op.query === "string" && op.query.length > 0,
        withHash: JSON.stringify(op.extensions ?? "").includes("sha256Hash"),
      })),
    });
    return response;
  };
}

export function emit(result) {
  process.stdout.write(JSON.stringify(result) + "\n");
}

export function fail(error) {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
}
