"""What the broker's subscribers listen to, from XPUB's subscription messages: an EVENT that
nobody takes is not even encoded (BrokerState.heard)."""

from __future__ import annotations

from medialoom.protocol import codec


class Subscribers:
    """The topic prefixes some subscriber takes on events_out."""

    def __init__(self) -> None:
        self.prefixes: set[bytes] = set()

    def on_message(self, frames: list[bytes]) -> None:
        """A topic prefix some subscriber took (\\x01) or the last one dropped (\\x00):
        XPUB passes each only once, so this set is what anybody listens to."""
        data = frames[0]
        if data[:1] == b"\x01":
            self.prefixes.add(data[1:])
        elif data[:1] == b"\x00":
            self.prefixes.discard(data[1:])

    def hear(self, job_id: str) -> bool:
        """Does a subscriber take the topic of job_id's events?"""
        subs = self.prefixes
        if not subs:
            return False
        topic = codec.topic(job_id)
        if b"job/" in subs or topic in subs or b"" in subs:
            return True
        return any(topic.startswith(prefix) for prefix in subs)
