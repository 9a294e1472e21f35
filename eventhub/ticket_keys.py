"""`eventhub keys …`: rotate the QR signing key without invalidating tickets already sold.

Rotation makes a new key the signer and keeps the old public key verifying
(in `.eventhub-ticket-old-keys.pem`, or `EVENTHUB_TICKET_VERIFY_KEYS`) until
it is retired. Ed25519 tokens are re-derived on demand, so new QR codes use
the new key at once, while printed ones keep scanning.
"""

from __future__ import annotations

import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from eventhub.services.ticket_tokens import TicketSigner, key_id_of, public_pem, split_public_pems
from eventhub.settings import TICKET_OLD_KEYS_FILE, Settings, _new_ed25519_pem


def list_keys(settings: Settings) -> int:
    signer = TicketSigner.from_pem(settings.ticket_signing_key, settings.ticket_verify_keys)
    for index, kid in enumerate(signer.key_ids):
        print(f"{kid}  {'signing' if index == 0 else 'verify-only'}")
    return 0


def rotate(settings: Settings) -> int:
    old = serialization.load_pem_private_key(settings.ticket_signing_key.encode(), password=None)
    assert isinstance(old, Ed25519PrivateKey)
    new_pem = _new_ed25519_pem()
    if settings.ticket_key_file is None:
        print("The signing key comes from EVENTHUB_TICKET_SIGNING_KEY. To rotate, set it to:")
        print(new_pem)
        print("and append this to EVENTHUB_TICKET_VERIFY_KEYS so sold tickets keep scanning:")
        print(public_pem(old))
        return 0
    with TICKET_OLD_KEYS_FILE.open("a") as bundle:
        bundle.write(public_pem(old))
    settings.ticket_key_file.write_text(new_pem + "\n")
    new_signer = TicketSigner.from_pem(new_pem, TICKET_OLD_KEYS_FILE.read_text())
    print(f"new signing key {new_signer.key_ids[0]}; restart the server to use it")
    return 0


def retire(settings: Settings, kid: str) -> int:
    """Stop accepting tickets signed by an old key (from the keys file)."""
    if not TICKET_OLD_KEYS_FILE.exists():
        print("no retired keys are kept in a file here")
        return 1
    old_keys = split_public_pems(TICKET_OLD_KEYS_FILE.read_text())
    kept = [k for k in old_keys if TicketSigner.kid_text(key_id_of(k)) != kid]
    if len(kept) == len(old_keys):
        signing = TicketSigner.from_pem(settings.ticket_signing_key)
        if kid in signing.key_ids:
            print(
                f"{kid} is the current signing key; run `eventhub keys rotate` first",
                file=sys.stderr,
            )
        else:
            print(
                f"no retired key has the id {kid}; `eventhub keys list` shows them", file=sys.stderr
            )
        return 1
    bundle = "".join(
        k.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        for k in kept
    )
    TICKET_OLD_KEYS_FILE.write_text(bundle)
    print(f"retired {kid}; {len(kept)} old keys still verify")
    return 0
