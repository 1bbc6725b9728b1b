"""dial_once against a real websocket server on 127.0.0.1:0: the connection it returns speaks
``plain.kubevirt.io`` and keeps the library's own log records (websockets logs its internal races
with a traceback) off the user's terminal; the CLI reports failures once, itself.

Runs in a fresh interpreter: pytest's log capture would hide what logging's last-resort handler
prints to stderr in a real ``virtctl`` process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import threading
    from dataclasses import dataclass, field
    from websockets.sync.server import serve
    from virtctl.streams import protocol
    from virtctl.streams.dial import dial_once

    @dataclass
    class Params:
        url: str
        ssl_context: object = None
        headers: dict = field(default_factory=dict)
        server_hostname: object = None
        proxy_url: str = ""

    def echo(ws):
        for message in ws:
            ws.send(message)

    with serve(echo, "127.0.0.1", 0, subprotocols=[protocol.SUBPROTOCOL]) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        ws = dial_once(Params(url=f"ws://127.0.0.1:{server.socket.getsockname()[1]}/"))
        assert ws.subprotocol == protocol.SUBPROTOCOL
        ws.send(b"ping")
        assert ws.recv(timeout=5) == b"ping"
        try:
            raise EOFError("stream ended")
        except EOFError:
            ws.logger.error("unexpected internal error", exc_info=True)
        ws.close()
        server.shutdown()
    print("ok")
""")


def test_connection_speaks_the_subprotocol_and_logs_nowhere():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"
    assert done.stderr == ""
