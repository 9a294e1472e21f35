"""Money: integer minor units everywhere; Decimal only at the API edge, converted here."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from eventhub.services.errors import ValidationFailed

# ISO 4217 currencies we accept, with their number of decimals.
CURRENCY_EXPONENTS: dict[str, int] = {
    "AED": 2,
    "ARS": 2,
    "AUD": 2,
    "BGN": 2,
    "BHD": 3,
    "BRL": 2,
    "CAD": 2,
    "CHF": 2,
    "CLP": 0,
    "CNY": 2,
    "COP": 2,
    "CZK": 2,
    "DKK": 2,
    "EGP": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "HUF": 2,
    "IDR": 2,
    "ILS": 2,
    "INR": 2,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KES": 2,
    "KRW": 0,
    "KWD": 3,
    "MAD": 2,
    "MXN": 2,
    "MYR": 2,
    "NGN": 2,
    "NOK": 2,
    "NZD": 2,
    "OMR": 3,
    "PEN": 2,
    "PHP": 2,
    "PKR": 2,
    "PLN": 2,
    "QAR": 2,
    "RON": 2,
    "RSD": 2,
    "SAR": 2,
    "SEK": 2,
    "SGD": 2,
    "THB": 2,
    "TND": 3,
    "TRY": 2,
    "TWD": 2,
    "UAH": 2,
    "USD": 2,
    "VND": 0,
    "ZAR": 2,
}
MAX_MINOR = 10**12  # a sanity bound far above any ticket price (the columns are BIGINT)
MAX_MINOR_DIGITS = 12  # 10**12 is the only 13-digit amount allowed; larger ones are refused
MAX_DIGITS = 40  # significant digits a client may send for one amount


def exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise ValidationFailed(f"unsupported currency {currency!r}", field="currency") from None


def normalize_currency(currency: str, field: str = "currency") -> str:
    code = currency.strip().upper()
    if code not in CURRENCY_EXPONENTS:
        raise ValidationFailed("currency must be an ISO 4217 code we support", field=field)
    return code


def to_minor(amount: Decimal, currency: str, field: str = "price") -> int:
    """Exact conversion; refuses more decimals than the currency has, negatives and NaN.

    The work is bounded whatever the client sent: the number's size is read from
    its digits and exponent (no arithmetic) before it is scaled, so "1E+400000"
    is refused at once instead of being expanded into a 400,000-digit integer.
    """
    if not amount.is_finite():
        raise ValidationFailed("amount must be a number", field=field)
    places = exponent(currency)
    if amount.is_zero():
        return 0  # whatever its exponent: "0E+400000" is still nothing
    if amount.is_signed():
        raise ValidationFailed("amount must not be negative", field=field)
    if len(amount.as_tuple().digits) > MAX_DIGITS:
        raise ValidationFailed(f"amount has more than {MAX_DIGITS} digits", field=field)
    if amount.adjusted() + places > MAX_MINOR_DIGITS:
        raise ValidationFailed("amount is too large", field=field)
    minor = _scaled_integer(amount, places, currency, field)
    if minor > MAX_MINOR:
        raise ValidationFailed("amount is too large", field=field)
    return minor


def _scaled_integer(amount: Decimal, places: int, currency: str, field: str) -> int:
    """The one conversion to minor units; only reached by amounts already bounded in size."""
    try:
        scaled = amount.scaleb(places)
        if scaled != scaled.to_integral_value():
            raise ValidationFailed(
                f"{currency} amounts have at most {places} decimals", field=field
            )
    except InvalidOperation:
        raise ValidationFailed("amount must be a number", field=field) from None
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    places = CURRENCY_EXPONENTS.get(currency, 2)
    return Decimal(minor).scaleb(-places).quantize(Decimal(1).scaleb(-places))
