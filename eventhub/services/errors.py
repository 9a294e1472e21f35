"""Domain errors raised by services; the API maps each to a UserError code in one place."""

from __future__ import annotations


class DomainError(Exception):
    """An expected business outcome the caller must be told about."""

    code = "VALIDATION"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(DomainError):
    code = "VALIDATION"


class NotFound(DomainError):
    code = "NOT_FOUND"


class Conflict(DomainError):
    code = "CONFLICT"


class SoldOut(DomainError):
    code = "SOLD_OUT"


class SalesClosed(DomainError):
    code = "SALES_CLOSED"


class PromoInvalid(DomainError):
    code = "PROMO_INVALID"


class PromoExhausted(DomainError):
    code = "PROMO_EXHAUSTED"


class EmailTaken(DomainError):
    code = "EMAIL_TAKEN"


class InvalidCredentials(DomainError):
    code = "INVALID_CREDENTIALS"


class TokenReused(DomainError):
    """A rotated refresh token came back: its family is revoked. Says whose, for the audit."""

    code = "TOKEN_REUSED"

    def __init__(self, message: str, *, user_id: int, family_id: str) -> None:
        super().__init__(message)
        self.user_id = user_id
        self.family_id = family_id


class NotRefundable(DomainError):
    code = "NOT_REFUNDABLE"


class AlreadyCheckedIn(DomainError):
    """A ticket of the order was admitted at the door: the buyer can no longer undo it."""

    code = "ALREADY_CHECKED_IN"


class LimitExceeded(DomainError):
    """The buyer would hold more than the event's fair share, or too many pending orders."""

    code = "LIMIT_EXCEEDED"


class PaymentFailed(DomainError):
    """The payment provider failed or declined; nothing was charged, held or refunded."""

    code = "PAYMENT_FAILED"


class PermissionDenied(Exception):
    """The viewer may not touch this object: an authorization failure, not a business outcome."""


class LoginThrottled(Exception):
    """Too many failed logins: a RATE_LIMITED GraphQL error, with the seconds to wait."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
