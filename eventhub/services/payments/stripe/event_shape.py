"""The shape a verified Stripe webhook body must have before anything reads it.

A valid signature only says the body came from someone holding the webhook
secret, not that it is an event: a JSON array, a string, an event without
`type` or whose `data.object` is not an object must be refused with a reason
(HTTP 400), never crash the handler (HTTP 500, which Stripe retries for days).
Only the fields EventHub reads are checked, with the types Stripe documents.
"""

from __future__ import annotations

import json
from typing import Any


class MalformedEvent(ValueError):
    """A signed body that is not a Stripe event EventHub can read; the message says why."""


# Fields of data.object that EventHub reads, per event family, and the types Stripe sends.
_INTENT_FIELDS: dict[str, tuple[type, ...]] = {
    "amount": (int,),
    "amount_received": (int,),
    "currency": (str,),
    "status": (str,),
    "metadata": (dict,),
}
_CHARGE_FIELDS: dict[str, tuple[type, ...]] = {
    "amount": (int,),
    "amount_refunded": (int,),
    "payment_intent": (str,),
    "refunds": (dict,),
}


def parse_event(payload: bytes) -> dict[str, Any]:
    """The event in a verified body, or `MalformedEvent` saying what is wrong with it."""
    try:
        event = json.loads(payload)
    except ValueError:
        raise MalformedEvent("the body is not JSON") from None
    if not isinstance(event, dict):
        raise MalformedEvent(f"the body is a JSON {_kind(event)}, not an event object")
    for name in ("id", "type"):
        if not isinstance(event.get(name), str) or not event[name]:
            raise MalformedEvent(f"the event has no {name}")
    data = event.get("data")
    if not isinstance(data, dict) or "object" not in data:
        raise MalformedEvent("the event has no data.object")
    obj = data["object"]
    if not isinstance(obj, dict):
        raise MalformedEvent(f"data.object is a {_kind(obj)}, not an object")
    kind = str(event["type"])
    if kind.startswith("payment_intent."):
        _check_fields(obj, _INTENT_FIELDS, required="id")
    elif kind.startswith("charge."):
        _check_fields(obj, _CHARGE_FIELDS, required="id")
        _check_refund_list(obj.get("refunds"))
    return event


def _check_fields(obj: dict[str, Any], fields: dict[str, tuple[type, ...]], required: str) -> None:
    if not isinstance(obj.get(required), str) or not obj[required]:
        raise MalformedEvent(f"data.object has no {required}")
    for name, types in fields.items():
        value = obj.get(name)
        # bool is an int in Python, never an amount in Stripe's JSON
        if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
            raise MalformedEvent(f"data.object.{name} is a {_kind(value)}")


def _check_refund_list(refunds: Any) -> None:
    if refunds is None:
        return  # left out by API versions since 2022-11-15
    listed = refunds.get("data")
    if listed is not None and (
        not isinstance(listed, list) or not all(isinstance(r, dict) for r in listed)
    ):
        raise MalformedEvent("data.object.refunds.data is not a list of refunds")


def _kind(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")
