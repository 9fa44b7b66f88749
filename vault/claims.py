"""Tokens of a deployment's identity providers (Pro Santé Connect for professionals, an
OIDC provider for patients): which issuers are trusted, where their keys are published,
and which of their claims give the actor's subject, kind, profession, specialty and
structure. Read from the TOML file `token_providers_file` names (docs/tokens.md):

    [[provider]]
    issuer = "https://idp.example/realms/care"   # the token's `iss`, exactly
    audience = "dossier-vault"                   # the token's `aud` must contain it
    jwks = "https://idp.example/realms/care/certs"   # or a file path
    kind = "professional"          # every token of this issuer: that kind...
    # kind_claim = "actor_kind"    # ...or the claim naming it (one of the two)
    subject = "SubjectNameID"      # a claim path: names joined by dots, list indexes
    subject_prefix = "8"           # stripped from the subject when present
    profession = "SubjectRefPro.exercices.0.codeProfession"
    specialty = "SubjectRefPro.exercices.0.codeSavoirFaire"
    structure = "SubjectRefPro.exercices.0.activities.0.numeroFinessSite"
    [provider.specialties]         # optional: the provider's codes in the vault's words
    "SM26" = "emergency_medicine"  # (a code not listed passes unchanged; same for
                                   # [provider.professions])

A token is verified with the key its header's `kid` names in the provider's JWKS, with
the algorithm that key decides (vault/jwks.py); then `exp`, `iat`, `iss` and `aud` are
required, 30 s of clock skew allowed, and a lifetime (`exp - iat`) over 24 h refused;
then the mapped subject must be a valid RPPS (professionals) or INS (patients and
representatives), profession and specialty text of at most 64 characters, a structure a
FINESS (9 characters) or a SIRET (14 digits), on a professional's token only (it makes
them a member of the care teams that list it). Every failure is an `UnauthenticatedError`
that echoes neither the token nor a claim.

What it does not: verify the vault's own issuer keys (vault/auth.py, which calls this
for an `iss` a provider declares), or fetch keys (vault/jwks.py).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

from vault.domain.careteams import is_structure
from vault.domain.identifiers import parse_ins, parse_rpps
from vault.domain.model import INS_SUBJECT_KINDS, Actor, ActorKind
from vault.errors import ConfigurationError, InvalidArgumentError, UnauthenticatedError
from vault.jwks import REFETCH_SECONDS, JwksKeys

LEEWAY_SECONDS = 30  # clock skew allowed on exp, iat and nbf
MAX_LIFETIME_SECONDS = 24 * 3600  # an assertion is for a session, not a standing credential
MAX_SUBJECT_LENGTH = 80  # the index's actor columns (an INS ref is 73 characters)
MAX_CODE_LENGTH = 64  # profession and specialty codes, as the index stores them
_KEYS = {
    "issuer",
    "audience",
    "jwks",
    "kind",
    "kind_claim",
    "subject",
    "subject_prefix",
    "profession",
    "specialty",
    "structure",
    "refetch_seconds",
    "professions",
    "specialties",
}


@dataclass(frozen=True)
class ClaimMapping:
    """Which claim gives what, for one issuer (paths as `claim_at` reads them)."""

    subject: str = "sub"
    subject_prefix: str = ""
    kind: ActorKind | None = None
    kind_claim: str | None = None
    profession: str | None = None
    specialty: str | None = None
    structure: str | None = None
    secret_care: str | None = None  # the claim marking a minor's secret-care session; None: never
    professions: Mapping[str, str] = field(default_factory=dict)
    specialties: Mapping[str, str] = field(default_factory=dict)


def claim_at(claims: Mapping[str, Any], path: str) -> object:
    """The value at a dotted `path` (`a.b.0.c`: a list index where the value is a list),
    None where any step is missing."""
    value: object = claims
    for step in path.split("."):
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return None
    return value


def _subject(kind: ActorKind, text: str) -> str:
    try:
        if kind in INS_SUBJECT_KINDS:
            return parse_ins(text).value
        if kind is ActorKind.PROFESSIONAL:
            return parse_rpps(text)
    except InvalidArgumentError:
        raise UnauthenticatedError("token subject is malformed for its actor kind") from None
    return text


def _code(value: object, vocabulary: Mapping[str, str]) -> str | None:
    """An optional code, in the vault's words where `vocabulary` translates it."""
    if value is None:
        return None
    if isinstance(value, str):
        value = vocabulary.get(value, value)
        if len(value) <= MAX_CODE_LENGTH:
            return value
    raise UnauthenticatedError("token profession or specialty is malformed or too long")


def map_claims(mapping: ClaimMapping, claims: Mapping[str, Any]) -> Actor:
    """The actor verified `claims` assert under `mapping` (see the module docstring)."""
    kind = mapping.kind
    if kind is None:
        try:
            kind = ActorKind(str(claim_at(claims, mapping.kind_claim or "kind")))
        except ValueError:
            raise UnauthenticatedError("token names an unknown actor kind") from None
    subject = claim_at(claims, mapping.subject)
    if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_LENGTH:
        raise UnauthenticatedError("token subject is missing or too long")
    if mapping.subject_prefix and subject.startswith(mapping.subject_prefix):
        subject = subject[len(mapping.subject_prefix) :]
    structure = _structure(mapping, kind, claims)
    profession = claim_at(claims, mapping.profession) if mapping.profession else None
    specialty = claim_at(claims, mapping.specialty) if mapping.specialty else None
    profession = _code(profession, mapping.professions)
    specialty = _code(specialty, mapping.specialties)
    secret_care = _secret_care(mapping, kind, claims)
    return Actor(kind, _subject(kind, subject), profession, specialty, secret_care, structure)


def _structure(mapping: ClaimMapping, kind: ActorKind, claims: Mapping[str, Any]) -> str | None:
    """A professional's structure (FINESS or SIRET), absent for none."""
    structure = claim_at(claims, mapping.structure) if mapping.structure else None
    if structure is None:
        return None
    if not isinstance(structure, str) or not is_structure(structure):
        raise UnauthenticatedError("token structure is neither a FINESS nor a SIRET")
    if kind is not ActorKind.PROFESSIONAL:
        raise UnauthenticatedError("token structure is a professional's claim only")
    return structure


def _secret_care(mapping: ClaimMapping, kind: ActorKind, claims: Mapping[str, Any]) -> bool:
    """A professional's secret-care session (ADR 0023): `true`, or absent for false."""
    flag = claim_at(claims, mapping.secret_care) if mapping.secret_care else None
    if flag is None:
        return False
    if not isinstance(flag, bool) or (flag and kind is not ActorKind.PROFESSIONAL):
        raise UnauthenticatedError("token secret_care claim is malformed or not a professional's")
    return flag


def check_lifetime(claims: Mapping[str, Any]) -> None:
    lifetime = claims["exp"] - claims["iat"]
    if not isinstance(lifetime, int) or lifetime > MAX_LIFETIME_SECONDS:
        raise UnauthenticatedError("token lifetime is longer than the vault accepts")


@dataclass(frozen=True)
class Provider:
    """One trusted identity provider: its issuer, audience, published keys and mapping."""

    issuer: str
    audience: str
    keys: JwksKeys
    mapping: ClaimMapping

    def verify(self, token: str) -> tuple[Actor, int]:
        """The actor and expiry of a token this provider signed (module docstring)."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self.keys.key(kid) if isinstance(kid, str) else None
            if key is None:
                raise UnauthenticatedError("token signed by an unknown key")
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],  # the key decides, never the token
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise UnauthenticatedError("token expired") from None
        except jwt.PyJWTError:
            raise UnauthenticatedError("token invalid") from None
        check_lifetime(claims)
        return map_claims(self.mapping, claims), int(claims["exp"])


def _text(entry: Mapping[str, Any], key: str, required: bool = False) -> str | None:
    value = entry.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"token providers: `{key}` must be a non-empty text")
    return value


def _mapping(entry: Mapping[str, Any]) -> ClaimMapping:
    kind_text, kind_claim = _text(entry, "kind"), _text(entry, "kind_claim")
    if (kind_text is None) == (kind_claim is None):
        raise ConfigurationError("token providers: give exactly one of `kind`, `kind_claim`")
    try:
        kind = None if kind_text is None else ActorKind(kind_text)
    except ValueError:
        raise ConfigurationError("token providers: `kind` is not an actor kind") from None
    return ClaimMapping(
        subject=_text(entry, "subject") or "sub",
        subject_prefix=_text(entry, "subject_prefix") or "",
        kind=kind,
        kind_claim=kind_claim,
        profession=_text(entry, "profession"),
        specialty=_text(entry, "specialty"),
        structure=_text(entry, "structure"),
        professions=_vocabulary(entry, "professions"),
        specialties=_vocabulary(entry, "specialties"),
    )


def _vocabulary(entry: Mapping[str, Any], key: str) -> dict[str, str]:
    table = entry.get(key, {})
    if not isinstance(table, dict) or not all(
        isinstance(v, str) and 0 < len(v) <= MAX_CODE_LENGTH for v in table.values()
    ):
        raise ConfigurationError(f"token providers: `{key}` must map codes to short texts")
    return dict(table)


def _provider(entry: Mapping[str, Any], base: Path) -> Provider:
    unknown = set(entry) - _KEYS
    if unknown:
        raise ConfigurationError(f"token providers: unknown keys {sorted(unknown)}")
    issuer = _text(entry, "issuer", required=True) or ""
    jwks = _text(entry, "jwks", required=True) or ""
    if not jwks.startswith(("https://", "http://")):
        jwks = str(base / jwks)  # a relative path: beside the providers file
    refetch = entry.get("refetch_seconds", REFETCH_SECONDS)
    if not isinstance(refetch, int | float) or refetch < 0:
        raise ConfigurationError("token providers: `refetch_seconds` must be >= 0")
    audience = _text(entry, "audience", required=True) or ""
    return Provider(issuer, audience, JwksKeys(jwks, refetch_seconds=refetch), _mapping(entry))


def load_providers(path: Path) -> dict[str, Provider]:
    """The providers `path` declares, by issuer; a bad file is a `ConfigurationError`."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigurationError(f"cannot read token providers file {path}") from e
    entries = document.get("provider")
    if set(document) - {"provider"} or not isinstance(entries, list) or not entries:
        raise ConfigurationError("token providers file: expected [[provider]] tables only")
    providers: dict[str, Provider] = {}
    for entry in entries:
        provider = _provider(entry, path.parent)
        if provider.issuer in providers:
            raise ConfigurationError("token providers file: an issuer is declared twice")
        providers[provider.issuer] = provider
    return providers
