"""Who may use the page: the access mode the settings ask for, the start check, and secret checks.

No Streamlit here: ``app.py`` asks :func:`policy` for the mode and :meth:`AccessPolicy.owner_for_secret`
for the owner of a secret typed at sign-in; ``scripts/run.sh`` runs ``python -m retrieval.access check``
before it starts the page, which refuses an exposed start without a secret.

Modes:

- ``local``: the host is a loopback address and no secret is set: one user, no sign-in.
- ``token``: one shared ``access_token``; everyone holding it is one user (owner ``token``).
- ``users``: a ``password_file`` of ``name:secret`` lines; each name is its own owner (``user:NAME``).
- ``oidc``: Streamlit's ``st.login``; each signed-in email is its own owner (``oidc:EMAIL``).
- ``open``: exposed with ``no_auth``; anyone reaching the port is one user (owner ``public``).
"""

from __future__ import annotations

import hmac
import ipaddress
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from retrieval.errors import NewsqaError
from retrieval.settings import Settings, describe_invalid

__all__ = [
    "LOCAL_OWNER",
    "AccessError",
    "AccessPolicy",
    "is_loopback",
    "policy",
    "read_password_file",
]

Mode = Literal["local", "token", "users", "oidc", "open"]
LOCAL_OWNER = "local"
MIN_SECRET_CHARS = 16
NEW_SECRET_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(24))'"


class AccessError(NewsqaError):
    """The access settings are unsafe or inconsistent; the message names the settings to set."""


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name or an empty string: assume reachable from elsewhere


def _check_secret(secret: str, where: str) -> None:
    if len(secret) < MIN_SECRET_CHARS:
        raise AccessError(
            f"{where} is {len(secret)} characters long; use at least {MIN_SECRET_CHARS} "
            f"(make one with: {NEW_SECRET_HINT})"
        )


def read_password_file(path: Path) -> dict[str, str]:
    """``{name: secret}`` from a file of ``name:secret`` lines (``#`` comments and blank lines skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AccessError(
            f"NEWSQA_PASSWORD_FILE={path} cannot be read ({exc.strerror or exc}); "
            "point it at a file of 'name:secret' lines"
        ) from None
    users: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, secret = line.partition(":")
        name, secret = name.strip(), secret.strip()
        where = f"{path}, line {number}"
        if not sep or not name or not secret:
            raise AccessError(f"{where} is not 'name:secret' (got {len(line)} characters without both parts)")
        if name in users:
            raise AccessError(f"{where}: the name {name!r} appears twice; give each person one line")
        _check_secret(secret, f"the secret of {name!r} ({where})")
        if any(hmac.compare_digest(secret, other) for other in users.values()):
            raise AccessError(f"{where}: the secret of {name!r} is also another user's; make each one unique")
        users[name] = secret
    if not users:
        raise AccessError(f"NEWSQA_PASSWORD_FILE={path} holds no 'name:secret' line; add one per person")
    return users


@dataclass(frozen=True)
class AccessPolicy:
    """The access mode the settings ask for, checked: build it with :func:`policy`."""

    mode: Mode
    host: str
    uploads: bool
    token: str | None = field(default=None, repr=False)
    password_file: Path | None = None

    @property
    def exposed(self) -> bool:
        return not is_loopback(self.host)

    @property
    def signs_in(self) -> bool:
        """A secret is asked for at sign-in (token or password file)."""
        return self.mode in ("token", "users")

    @property
    def owner(self) -> str | None:
        """The owner of every session when there is no sign-in (local, open); else None."""
        return {"local": LOCAL_OWNER, "open": "public"}.get(self.mode)

    def owner_for_secret(self, secret: str) -> str | None:
        """The owner a typed secret signs in as, or None. Compared in constant time, every entry."""
        secret = secret.strip()
        if not secret:
            return None
        if self.mode == "token" and self.token is not None:
            return "token" if hmac.compare_digest(secret.encode(), self.token.encode()) else None
        if self.mode == "users" and self.password_file is not None:
            found = None
            for name, expected in read_password_file(self.password_file).items():
                if hmac.compare_digest(secret.encode(), expected.encode()):
                    found = f"user:{name}"
            return found
        return None

    def describe(self) -> str:
        """One line for the start message."""
        where = f"{self.host} (reachable from other machines)" if self.exposed else f"{self.host} (this machine only)"
        what = {
            "local": "no sign-in",
            "token": "sign-in with the shared access token (NEWSQA_ACCESS_TOKEN); its holders share conversations",
            "users": f"sign-in with per-user secrets from {self.password_file}",
            "oidc": "sign-in through OpenID Connect (st.login, .streamlit/secrets.toml [auth])",
            "open": "NO access control (NEWSQA_NO_AUTH): anyone who reaches the port reads, asks"
            + (" and uploads" if self.uploads else ""),
        }[self.mode]
        return f"listening on {where}; {what}; uploads {'on' if self.uploads else 'off'}"


def policy(settings: Settings, host: str | None = None, host_source: str = "NEWSQA_HOST") -> AccessPolicy:
    """The checked access mode for ``settings`` (``host`` overrides ``settings.host``, e.g. the address
    Streamlit was really started with, named by ``host_source``). Raises :class:`AccessError` naming the
    settings to change."""
    host = host or settings.host
    token = settings.access_token.get_secret_value() if settings.access_token is not None else None
    chosen = [n for n, on in (("NEWSQA_ACCESS_TOKEN", token is not None),
                              ("NEWSQA_PASSWORD_FILE", settings.password_file is not None),
                              ("NEWSQA_OIDC", settings.oidc)) if on]
    if len(chosen) > 1:
        raise AccessError(f"{' and '.join(chosen)} are both set; choose one way to sign in")
    mode: Mode
    if token is not None:
        _check_secret(token, "NEWSQA_ACCESS_TOKEN")
        mode = "token"
    elif settings.password_file is not None:
        read_password_file(settings.password_file)  # readable and well-formed now, not at the first sign-in
        mode = "users"
    elif settings.oidc:
        mode = "oidc"
    elif not is_loopback(host):
        if not settings.no_auth:
            raise AccessError(
                f"{host_source}={host} makes the page reachable from other machines, but no access control is "
                "set. Set NEWSQA_ACCESS_TOKEN (a shared secret), NEWSQA_PASSWORD_FILE (one 'name:secret' "
                "per user) or NEWSQA_OIDC=1 (st.login); or NEWSQA_NO_AUTH=1 to let anyone in on purpose; "
                f"or leave {host_source} unset to listen on 127.0.0.1 only."
            )
        mode = "open"
    else:
        mode = "local"
    # auto: per-user identities (or the single local user) may upload; a shared token or no_auth may not
    uploads = mode in ("local", "users", "oidc") if settings.uploads == "auto" else settings.uploads == "on"
    return AccessPolicy(mode, host, uploads, token, settings.password_file)


def main(argv: list[str] | None = None) -> int:
    """``python -m retrieval.access check``: exit 0 and print ``HOST PORT MAX_UPLOAD_MB`` then the mode
    line, or exit 2 with the reason (used by scripts/run.sh before it starts the page)."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["check"]:
        print("usage: python -m retrieval.access check", file=sys.stderr)
        return 2
    try:
        settings = Settings()
        checked = policy(settings)
    except ValidationError as exc:  # a bad NEWSQA_* value: named as the variable, not the field
        print(f"newsqa refuses to start: {describe_invalid(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # an unsafe combination
        print(f"newsqa refuses to start: {exc}", file=sys.stderr)
        return 2
    print(settings.host, settings.port, settings.upload_max_mb)
    print(checked.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
