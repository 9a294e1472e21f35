"""`eventhub keys …`: rotate the QR signing key without invalidating tickets already sold.

Rotation makes a new key the signer and keeps the old public key verifying
(in `.eventhub-ticket-old-keys.pem`, or `EVENTHUB_TICKET_VERIFY_KEYS`) until
it is retired. Running servers pick both up without a restart (web/key_refresh.py):
a retirement through the database, on every host; a rotation through the key
files of this host. Ed25519 tokens are re-derived on demand, so new QR codes use
the new key at once, while printed ones keep scanning.
"""

from __future__ import annotations

import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from eventhub.models.database import create_engine, create_session_factory
from eventhub.models.migrate import upgrade_database_async
from eventhub.services import retired_keys
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
    print(
        f"new signing key {new_signer.key_ids[0]}; servers running here switch to it "
        "within a few seconds"
    )
    return 0


async def retire(settings: Settings, kid: str) -> int:
    """Stop accepting tickets signed by an old key, on every running worker and host.

    The retirement is recorded in the database, which every `eventhub serve`
    worker reads each second; the key also leaves the local old-keys file.
    """
    ring = TicketSigner.from_pem(settings.ticket_signing_key, settings.ticket_verify_keys)
    if kid == ring.key_ids[0]:
        print(
            f"{kid} is the current signing key; run `eventhub keys rotate` first", file=sys.stderr
        )
        return 1
    if kid not in ring.key_ids:
        print(f"no retired key has the id {kid}; `eventhub keys list` shows them", file=sys.stderr)
        return 1
    await upgrade_database_async(settings.database_url)
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with create_session_factory(engine)() as session:
            await retired_keys.retire(session, kid)
    finally:
        await engine.dispose()
    _drop_from_old_keys_file(kid)
    print(f"retired {kid}; running servers stop accepting it within a few seconds")
    return 0


def _drop_from_old_keys_file(kid: str) -> None:
    if not TICKET_OLD_KEYS_FILE.exists():
        return
    kept = [
        k
        for k in split_public_pems(TICKET_OLD_KEYS_FILE.read_text())
        if TicketSigner.kid_text(key_id_of(k)) != kid
    ]
    TICKET_OLD_KEYS_FILE.write_text(
        "".join(
            k.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode()
            for k in kept
        )
    )
