"""The sidecar's bearer tokens: who may ask OPA for decisions, who may change its policy.

Two roles (``opa-config/authz``): an *agent* token may only ``POST`` its identity's
decision and effective-policy documents; the *publisher* token (CI, ``publish``,
``doctor``) may read everything and write policies and data under ``policypacks/``.

Each token comes from ``POLICYPACKS_<ROLE>_TOKEN`` or the file
``POLICYPACKS_<ROLE>_TOKEN_FILE`` names, else from ``<state dir>/<role>.token`` (created
0600 with a random token on first start, reused afterwards); never from the command line,
where every local user could read it in the process list. OPA only ever sees their
SHA-256: :func:`write_authz_bundle` writes the authorization policy and the hashes as
one bundle, which OPA loads at start and then protects from every API write.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import UsageError
from ..vocabulary import package_segment

ROLES = ("agent", "publisher")
ENV_OPA_TOKEN = "POLICYPACKS_OPA_TOKEN"


def env_names(role: str) -> tuple[str, str]:
    return f"POLICYPACKS_{role.upper()}_TOKEN", f"POLICYPACKS_{role.upper()}_TOKEN_FILE"


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def read_token_file(path: Path, what: str) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot read the token: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise UsageError(f"{what} {path}: not a text file") from None
    if not token or any(c.isspace() for c in token):
        raise UsageError(f"{what} {path}: give one token (no spaces) in the file")
    return token


def write_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Create ``path`` with ``mode`` (a token: 0600, its owner's only), whatever the umask."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, mode)


@dataclass(frozen=True)
class Token:
    role: str
    value: str
    source: str  # where it came from, for messages (never the token itself)


def resolve(role: str, state_dir: Path, env: dict[str, str] | None = None) -> Token:
    """The role's token from the environment, its file, or the state dir (created)."""
    env = dict(os.environ) if env is None else env
    value_var, file_var = env_names(role)
    if env.get(value_var):
        return Token(role, env[value_var].strip(), value_var)
    if env.get(file_var):
        return Token(role, read_token_file(Path(env[file_var]), file_var), env[file_var])
    path = state_dir / f"{role}.token"
    if path.exists():
        return Token(role, read_token_file(path, f"{role} token"), str(path))
    token = secrets.token_urlsafe(32)
    write_file(path, (token + "\n").encode())
    return Token(role, token, str(path))


def client_token(token: str | None, token_file: Path | None,
                 env: dict[str, str] | None = None) -> str | None:
    """The token ``publish``/``doctor`` send: ``--token``/``--token-file``, else the
    publisher's (``POLICYPACKS_PUBLISHER_TOKEN(_FILE)``), else ``POLICYPACKS_OPA_TOKEN``."""
    env = dict(os.environ) if env is None else env
    if token:
        return token.strip()
    if token_file:
        return read_token_file(token_file, "--token-file")
    value_var, file_var = env_names("publisher")
    if env.get(value_var):
        return env[value_var].strip()
    if env.get(file_var):
        return read_token_file(Path(env[file_var]), file_var)
    return env.get(ENV_OPA_TOKEN) or None


def authz_source() -> dict[str, bytes]:
    """The shipped authorization bundle's files (opa-config/authz), path -> bytes."""
    root = resources.files("policypacks.opa_config").joinpath("authz")
    return {".manifest": root.joinpath(".manifest").read_bytes(),
            "system/authz/authz.rego": root.joinpath("system/authz/authz.rego").read_bytes()}


def log_mask_dir() -> Path:
    """opa-config/log-mask, the ``system.log.mask`` every shipped start loads."""
    return Path(str(resources.files("policypacks.opa_config").joinpath("log-mask")))


def tokens_document(agent: Token, publisher: Token, identities: list[str]) -> dict[str, object]:
    if agent.value == publisher.value:
        raise UsageError("the agent and publisher tokens are the same: an agent could then "
                         "change its own policy; give two different tokens")
    return {
        sha256(agent.value): {"role": "agent",
                              "identities": sorted({package_segment(i) for i in identities})},
        sha256(publisher.value): {"role": "publisher", "identities": []},
    }


def write_authz_bundle(directory: Path, agent: Token, publisher: Token,
                       identities: list[str]) -> Path:
    """The authorization bundle OPA loads with ``--bundle``: policy plus token hashes.

    World-readable (an OPA container runs as another user): a SHA-256 of 256 random bits
    gives nothing away.
    """
    document = tokens_document(agent, publisher, identities)
    for rel, data in authz_source().items():
        write_file(directory / rel, data, 0o644)
    write_file(directory / "system/authz/tokens/data.json",
               json.dumps(document, indent=1, sort_keys=True).encode(), 0o644)
    return directory
