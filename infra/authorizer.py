"""Verify a bearer token the way the HTTP API's JWT authorizer does, for the local API server: an RS256
signature by a key of the JWKS, the issuer, the audience (`aud`, or `client_id` of an access token),
expiry and not-before; then the claims as API Gateway hands them on (every value a string).

PyJWT does the verification (PyJWKClient fetches and caches the JWKS, refetching for an unknown key id).
A token that verified is remembered for VERIFIED_FOR_SECONDS (never past its `exp`), so a client's every
request does not pay the signature check and PyJWT's character-by-character base64 checks again (1-3 ms a
request here); a refused token is never remembered, and expiry is checked on every request.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from typing import Any

import jwt

from deertrack.problems import Unauthorized
from deertrack.settings import get_settings

ALGORITHMS = ["RS256"]
#: How long a verified token is taken on trust (at most until it expires); the JWKS itself is kept 300 s.
VERIFIED_FOR_SECONDS = 60.0
#: Verified tokens remembered at once (least recently used dropped first).
VERIFIED_MAX = 1024


class JwtAuthorizer:
    """Tokens of one issuer and audience, signed by a key published at `jwks_url`."""

    def __init__(self, jwks_url: str | None, issuer: str, audience: str) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self._keys = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=10) if jwks_url else None
        self._verified: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls) -> JwtAuthorizer:
        settings = get_settings()
        return cls(settings.auth_jwks_url, settings.auth_issuer, settings.auth_audience)

    def verify(self, authorization: str | None) -> dict[str, Any]:
        """The verified claims of an `Authorization: Bearer <token>` header; raise Unauthorized otherwise."""
        if not authorization or not authorization.strip():
            raise Unauthorized("a valid bearer token is required (Authorization: Bearer <token>)", rule="required")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("the Authorization header must be 'Bearer <token>'", rule="bearer")
        if self._keys is None:
            raise Unauthorized("sign-in is not configured on this server (AUTH_JWKS_URL is not set)", rule="configured")
        now = time.time()
        with self._lock:
            known = self._verified.get(token)
            if known is not None and now < known[0]:
                self._verified.move_to_end(token)
                return known[1]
            self._verified.pop(token, None)  # expired, or past its time on trust: verified again below
        claims = self._verify(token)
        until = min(now + VERIFIED_FOR_SECONDS, float(claims["exp"]))
        with self._lock:
            self._verified[token] = (until, claims)
            while len(self._verified) > VERIFIED_MAX:
                self._verified.popitem(last=False)
        return claims

    def _verify(self, token: str) -> dict[str, Any]:
        """The claims of `token` after the full check (signature, issuer, times, audience); Unauthorized if not."""
        assert self._keys is not None
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=ALGORITHMS, issuer=self.issuer,
                options={"require": ["exp", "iss", "iat"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired; sign in again", rule="expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthorized("the token is not valid yet (nbf is in the future)", rule="not_before") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized(f"the token was not issued by {self.issuer}", rule="issuer") from None
        except jwt.InvalidSignatureError:
            raise Unauthorized("the token's signature does not verify", rule="signature") from None
        except jwt.PyJWKClientError as exc:
            raise Unauthorized(f"the token's signing key is not one of the issuer's keys ({exc})",
                               rule="signature") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"the token is not valid ({exc})", rule="valid_token") from None
        if self.audience not in _audiences(claims):
            raise Unauthorized(f"the token is not for this API (audience {self.audience})", rule="audience")
        return claims


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud", claims.get("client_id"))
    if aud is None:
        return []
    return [str(a) for a in aud] if isinstance(aud, list) else [str(aud)]


def gateway_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as API Gateway puts them in requestContext.authorizer.jwt.claims: strings, lists as "[a b]"."""
    shown: dict[str, str] = {}
    for name, value in claims.items():
        if isinstance(value, list):
            shown[name] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, str):
            shown[name] = value
        elif isinstance(value, bool):
            shown[name] = "true" if value else "false"
        elif isinstance(value, int | float):
            shown[name] = str(value)
        else:
            shown[name] = json.dumps(value)
    return shown
