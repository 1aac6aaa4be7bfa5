"""The local stand-in for the Cognito user pool: an RS256 signing key under the stack's state directory, its
JWKS served on loopback (what `<issuer>/.well-known/jwks.json` is in AWS), and the tokens it signs.

Tokens look like Cognito ID tokens: `sub`, `cognito:username`, `cognito:groups` (the role), `iss`, `aud`
(the app client), `token_use`, `iat`, `nbf`, `exp`. PyJWT and `cryptography` do the signing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from deertrack.auth import GROUPS_CLAIM, Role
from deertrack.settings import get_settings

ALGORITHM = "RS256"
KEY_FILE = "signing-key.pem"
JWKS_PATH = "/.well-known/jwks.json"
#: The users `deertrack up --demo` prints tokens for, one per role.
DEMO_USERS = {Role.VIEWER: "demo-viewer", Role.REVIEWER: "demo-reviewer", Role.ADMIN: "demo-admin"}


def user_pool_dir(state_dir: Path) -> Path:
    """Where a stack's signing key lives."""
    return state_dir / "auth"


class UserPool:
    """One RS256 key pair (kept in `directory`, created on first use) that signs and publishes tokens."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.key = _load_or_create_key(directory / KEY_FILE)
        public = self.key.public_key()
        self.jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(public))
        self.key_id = _thumbprint(self.jwk)  # RFC 7638
        self.jwk.update({"kid": self.key_id, "alg": ALGORITHM, "use": "sig"})
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk]}

    def mint(self, user: str, role: Role | str | None, *, ttl_seconds: int = 3600, issuer: str | None = None,
             audience: str | None = None, issued_at: float | None = None, not_before: float | None = None) -> str:
        """A signed token for `user` in the group `role` (None: no group), valid for `ttl_seconds`."""
        settings = get_settings()
        now = int(time.time() if issued_at is None else issued_at)
        claims: dict[str, Any] = {
            "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, f"deertrack-user:{user}")),
            "cognito:username": user,
            "iss": issuer or settings.auth_issuer,
            "aud": audience or settings.auth_audience,
            "token_use": "id",
            "iat": now,
            "auth_time": now,
            "nbf": int(now if not_before is None else not_before),
            "exp": now + ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        if role is not None:
            claims[GROUPS_CLAIM] = [Role(role).value]
        return jwt.encode(claims, self.key, algorithm=ALGORITHM, headers={"kid": self.key_id})

    # ------------------------------------------------------------------ JWKS over HTTP

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the JWKS on loopback in a background thread; returns its URL (AUTH_JWKS_URL)."""
        body = json.dumps(self.jwks()).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                found = self.path.split("?")[0] == JWKS_PATH
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) if found else 0))
                self.end_headers()
                if found:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                return None

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="jwks", daemon=True)
        self._thread.start()
        return self.jwks_url

    @property
    def jwks_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the JWKS is not being served; call serve() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{JWKS_PATH}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)


def _load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} is not an RSA private key; remove it to make a new one")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    partial = path.with_suffix(".tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    os.replace(partial, path)  # two processes creating it at once: one key wins, both read it
    return _load_or_create_key(path)


def _thumbprint(jwk: dict[str, Any]) -> str:
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
