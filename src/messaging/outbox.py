"""Queue an e-mail in the outbox. Call it inside the transaction that makes the change it reports,
so the message exists exactly when the change does; `kepu worker` sends it later."""

from __future__ import annotations

from core import clock
from messaging.tables import Outbox


class Attachment:
    """A file attached to a message (e.g. the visit's .ics)."""

    __slots__ = ("content", "content_type", "filename")

    def __init__(self, filename: str, content_type: str, content: bytes) -> None:
        self.filename = filename
        self.content_type = content_type
        self.content = content


async def enqueue(
    *,
    kind: str,
    recipient: str,
    subject: str,
    body: str,
    user_id: int | None = None,
    booking_id: int | None = None,
    masked_body: str = "",
    attachment: Attachment | None = None,
    dedupe_key: str | None = None,
) -> bool:
    """Add one message to the outbox; with a dedupe_key already present, nothing is added (False)."""
    now = clock.now()
    query = Outbox.insert(
        Outbox(
            kind=kind,
            recipient=recipient,
            user=user_id,
            booking_id=booking_id,
            subject=subject,
            body=body,
            masked_body=masked_body or body,
            attachment_name=attachment.filename if attachment else "",
            attachment_type=attachment.content_type if attachment else "",
            attachment=attachment.content if attachment else None,
            next_attempt_at=now,
            dedupe_key=dedupe_key,
            created_at=now,
        )
    )
    if dedupe_key is not None:
        # Two workers queueing the same reminder at once: the second insert waits for the first and
        # then adds nothing, instead of failing on the unique key.
        query = query.on_conflict(target=Outbox.dedupe_key, action="DO NOTHING")
    return bool(await query.returning(Outbox.id))
