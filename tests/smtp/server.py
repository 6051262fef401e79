"""A real SMTP server for the mail tests (aiosmtpd, from PyPI).

Usage: server.py DIR USER PASSWORD. Listens on 127.0.0.1 at a free port, prints
`ready PORT` once it accepts connections, requires AUTH (PLAIN or LOGIN) with USER and
PASSWORD, and writes each accepted message to DIR as `<n>.eml` (with the envelope's
sender and recipients in `<n>.envelope`). Runs until killed.
"""

import os
import socket
import sys
import time
import warnings

# The test server speaks plain SMTP on loopback on purpose: userd's TLS choice for remote
# hosts is tested apart (src/mail.rs).
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def main() -> None:
    out_dir, user, password = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
    os.makedirs(out_dir, exist_ok=True)

    class Handler:
        count = 0

        async def handle_DATA(self, server, session, envelope):
            if not session.authenticated:
                return "530 Authentication required"
            Handler.count += 1
            base = os.path.join(out_dir, str(Handler.count))
            with open(base + ".envelope", "w") as f:
                f.write(f"{envelope.mail_from}\n{','.join(envelope.rcpt_tos)}\n")
            with open(base + ".eml.tmp", "wb") as f:
                f.write(envelope.original_content or envelope.content)
            os.rename(base + ".eml.tmp", base + ".eml")
            return "250 Message accepted for delivery"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == user and auth_data.password == password
        return AuthResult(success=ok)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    print(f"ready {port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
