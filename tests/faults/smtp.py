"""A real SMTP server (aiosmtpd) in the test process that keeps every message it accepted."""

from __future__ import annotations

import asyncio
import threading
from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller


class Recorder:
    """aiosmtpd handler. ``rcpt_delay`` slows each message down in the middle of its SMTP
    conversation (before DATA: a client killed then has delivered nothing), and
    ``in_conversation`` is set while a client waits there."""

    def __init__(self, rcpt_delay: float = 0.0) -> None:
        self.rcpt_delay = rcpt_delay
        self.messages: list[Message] = []
        self.lock = threading.Lock()
        self.in_conversation = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if self.rcpt_delay:
            self.in_conversation.set()
            await asyncio.sleep(self.rcpt_delay)
            self.in_conversation.clear()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def received(self) -> list[Message]:
        with self.lock:
            return list(self.messages)


def smtp_server(port: int, recorder: Recorder) -> Controller:
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    return controller
