"""Serve the Chalice app over real HTTP on loopback (the local stand-in for API Gateway)."""

from __future__ import annotations

import importlib
import sys
import threading
from pathlib import Path
from types import ModuleType

from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"


def load_app_module(reload: bool = False) -> ModuleType:
    """Import functions/app.py the way Lambda does: `app` at the top level, chalicelib beside it."""
    path = str(FUNCTIONS_DIR)
    if path not in sys.path:
        sys.path.insert(0, path)
    if "app" in sys.modules and reload:
        return importlib.reload(sys.modules["app"])
    module = importlib.import_module("app")
    if Path(module.__file__ or "").resolve().parent != FUNCTIONS_DIR:
        raise RuntimeError(f"another module named 'app' shadows {FUNCTIONS_DIR / 'app.py'}")
    return module


class _PromptRequestHandler(ChaliceRequestHandler):
    """Chalice's handler writes headers and body separately; with Nagle on, every response waits
    ~40 ms for a delayed ACK on loopback. TCP_NODELAY sends them at once."""

    disable_nagle_algorithm = True


class ApiServer:
    """The Chalice local dev server in a background thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8001) -> None:
        app = load_app_module().app
        config = Config.create(chalice_stage="dev", app_name="deertrack", chalice_app=app)
        self.server = LocalDevServer(app, config, host, port, handler_cls=_PromptRequestHandler)
        self.host = host
        self.port = self.server.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.server.shutdown()
        self.server.server.server_close()
        self._thread.join(timeout=5)
