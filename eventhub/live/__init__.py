"""Live updates: an event's capacity and sales, pushed to subscribers as they change.

One idea, one package. Words used throughout, each for one thing:

- signal: "event N changed", raised by a service inside its transaction with
  `signals.changed(session, event_id)` and heard only once that commits.
- state: one read of an event's numbers (`state.State`), the unit subscribers get.
- watch: this process's subscribers of one event and the one task that turns
  signals into coalesced state reads and hands each state out (`watch.Watch`).
- mailbox: one subscriber's slot holding only the latest state (`mailbox.Mailbox`).
- hub: this process's watches, keyed by event id (`hub.HUB`); its change
  observers (the response cache) hear of every signal before the watches.
- follow: a subscription's stream of states (`follow.follow`), what resolvers call.
- memo: what is computed once per state and reused by all its subscribers.
- payload: the GraphQL object built from a state (once per state); its
  result: that payload's selection executed (once per operation and variables).
- text: a payload's encoded JSON (once per operation and variables per state).
- socket: one subscription operation's way to its WebSocket (`sockets.LiveSocket`).
- frame: a WebSocket text frame written straight to uvicorn's transport.
- direct write: the watch's task writing a known text as a frame for a waiting
  subscriber, without waking it.

Modules (imports only point down this list; services import `signals` alone):

- uvicorn_frames: the uvicorn adapter: its protocol with a frame writer in the scope.
- mailbox, watch, hub: coalescing and fan-out within one process.
- signals: `changed()`, pg_notify on PostgreSQL, an after-commit hook on SQLite;
  `touched()` for a statement that carries its own pg_notify.
- listener: one LISTEN connection per process, turning other workers' signals
  into this process's.
- state: `State`, its `Memo`, and the loader the hub reads states with.
- follow: `follow(event_id, ends_at=..., ending=..., direct=...)`.
- sockets, texts: the encode-once path (a text recorded by the first subscriber
  of an operation, sent as is by the others) and the direct writes.
- execution: the GraphQL execution context that runs a selection once per payload.

This file imports nothing, so that importing `eventhub.live.signals` from a
service loads no GraphQL or web code.
"""
