"""A small local SMTP server (RFC 5321 subset) standing in for a merchant's mail relay.

It speaks EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP and QUIT, records each accepted message,
and answers recipients listed in ``refuse`` with their scripted code (550 permanent, 451
temporary).
"""

from __future__ import annotations

import socketserver
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage


@dataclass
class SmtpState:
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse: dict[str, int] = field(default_factory=dict)  # recipient -> SMTP code
    lock: threading.Lock = field(default_factory=threading.Lock)


class SmtpStandIn:
    def __init__(self) -> None:
        self.state = SmtpState()
        state = self.state

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write((line + "\r\n").encode())

            def handle(self) -> None:
                self.reply("220 standin ESMTP")
                sender, recipients = "", []
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    line = raw.decode(errors="replace").rstrip("\r\n")
                    verb = line[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        self.wfile.write(b"250-standin\r\n250 8BITMIME\r\n")
                    elif verb == "MAIL":
                        sender, recipients = line.split(":", 1)[1].strip().strip("<>"), []
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        rcpt = line.split(":", 1)[1].strip().split()[0].strip("<>")
                        code = state.refuse.get(rcpt)
                        if code:
                            self.reply(f"{code} mailbox unavailable")
                        else:
                            recipients.append(rcpt)
                            self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        data = bytearray()
                        while True:
                            chunk = self.rfile.readline()
                            if chunk in (b".\r\n", b".\n", b""):
                                break
                            data += chunk[1:] if chunk.startswith(b"..") else chunk
                        parsed = message_from_bytes(bytes(data), policy=policy.default)
                        with state.lock:
                            state.messages.append(parsed)  # type: ignore[arg-type]
                            state.envelopes.append((sender, recipients))
                        self.reply("250 OK queued")
                    elif verb == "QUIT":
                        self.reply("221 Bye")
                        return
                    elif verb in ("RSET", "NOOP"):
                        self.reply("250 OK")
                    else:
                        self.reply("502 Command not implemented")

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"smtp://{host}:{port}"

    def __enter__(self) -> SmtpStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
