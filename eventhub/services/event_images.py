"""Event images: checked by content (not by the name or type the client claims), size-capped."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.live import signals
from eventhub.models import Event
from eventhub.services import audit
from eventhub.services.errors import ValidationFailed
from eventhub.services.events import owned_event

SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": ("png", "image/png"),
    b"\xff\xd8\xff": ("jpg", "image/jpeg"),
    b"GIF87a": ("gif", "image/gif"),
    b"GIF89a": ("gif", "image/gif"),
}
MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


def sniff(data: bytes) -> str | None:
    """The file extension for a PNG, JPEG, GIF or WebP image, or None for anything else."""
    for magic, (extension, _media) in SIGNATURES.items():
        if data.startswith(magic):
            return extension
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


async def set_image(
    session: AsyncSession,
    event_id: int,
    data: bytes,
    actor: audit.Actor,
    upload_dir: Path,
    max_bytes: int,
) -> Event:
    event = await owned_event(session, event_id, actor)
    if not data:
        raise ValidationFailed("the file is empty", field="file")
    if len(data) > max_bytes:
        raise ValidationFailed(f"the image is larger than {max_bytes} bytes", field="file")
    extension = sniff(data)
    if extension is None:
        raise ValidationFailed("the file must be a PNG, JPEG, GIF or WebP image", field="file")
    name = f"event-{event_id}-{hashlib.sha256(data).hexdigest()[:16]}.{extension}"
    folder = upload_dir / "events"
    await asyncio.to_thread(_write, folder, name, data)
    event.image_path = f"events/{name}"
    audit.record(
        session,
        actor,
        "event.upload_image",
        target_type="Event",
        target_id=event_id,
        details={"bytes": len(data), "type": extension},
    )
    await signals.changed(session, event_id)  # the public listing shows its imageUrl
    await session.commit()
    return event


def _write(folder: Path, name: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{name}.part"
    temporary.write_bytes(data)
    temporary.replace(folder / name)  # atomic: a reader never sees half an image
