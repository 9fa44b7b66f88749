"""A provider's published keys: only asymmetric signing keys are used, a rotated file or
URL is picked up without a restart, and invented `kid`s cannot make the vault hammer the
provider."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.identity_provider import JwksServer, ProviderKey, jwks
from vault.errors import ConfigurationError
from vault.jwks import JwksKeys, parse_jwks

RSA = ProviderKey.rsa("rsa-1")


def test_each_key_type_gets_the_one_algorithm_it_decides() -> None:
    keys = parse_jwks(jwks(RSA, ProviderKey.p256("ec-1"), ProviderKey.ed25519("ed-1")))
    assert {kid: k.algorithm for kid, k in keys.items()} == {
        "rsa-1": "RS256",
        "ec-1": "ES256",
        "ed-1": "EdDSA",
    }


def test_a_shared_secret_in_the_jwks_is_never_a_verification_key() -> None:
    document = {"keys": [{"kty": "oct", "kid": "hs", "k": "c2VjcmV0", "alg": "HS256"}]}
    assert parse_jwks(json.dumps(document).encode()) == {}


@pytest.mark.parametrize(
    "change",
    [{"alg": "RS512"}, {"alg": "none"}, {"use": "enc"}, {"kid": None}, {"kid": ""}],
    ids=["other-alg", "alg-none", "encryption-key", "no-kid", "empty-kid"],
)
def test_a_key_the_vault_would_misuse_is_skipped(change: dict[str, object]) -> None:
    jwk = {k: v for k, v in (RSA.jwk() | change).items() if v is not None}
    assert parse_jwks(json.dumps({"keys": [jwk]}).encode()) == {}


def test_an_rsa_key_under_2048_bits_is_skipped() -> None:
    assert parse_jwks(jwks(ProviderKey.rsa("short", bits=1024))) == {}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=16),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["kty", "kid", "alg", "use", "crv", "n", "e", "x"]), inner
        )
    ),
)


@given(JSON)
def test_any_json_is_keys_or_a_configuration_error(document: object) -> None:
    for candidate in (document, {"keys": document}, {"keys": [document]}):
        with contextlib.suppress(ConfigurationError):
            parse_jwks(json.dumps(candidate).encode())


def test_a_rotated_jwks_file_is_read_again_without_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_bytes(jwks(RSA))
    keys = JwksKeys(str(path))
    assert keys.key("rsa-2") is None
    rotated = ProviderKey.p256("rsa-2")
    path.write_bytes(jwks(RSA, rotated))
    os.utime(path, ns=(1, 1))  # a changed stamp even within the file system's granularity
    assert keys.key("rsa-2") is not None
    assert keys.key("rsa-1") is not None


def test_a_jwks_file_being_rewritten_keeps_the_keys_held(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_bytes(jwks(RSA))
    keys = JwksKeys(str(path))
    assert keys.key("rsa-1") is not None
    path.write_text('{"keys": [')
    assert keys.key("rsa-1") is not None


def test_unknown_kids_refetch_the_url_at_most_once_per_interval() -> None:
    now = [0.0]
    with JwksServer(jwks(RSA)).running() as server:
        keys = JwksKeys(server.url, refetch_seconds=30, clock=lambda: now[0])
        assert keys.key("rsa-1") is not None
        for invented in range(50):
            assert keys.key(f"invented-{invented}") is None
        assert server.fetches == 1
        now[0] = 31.0
        rotated = ProviderKey.p256("ec-2")
        server.document = jwks(RSA, rotated)
        assert keys.key("ec-2") is not None
        assert keys.key("rsa-1") is not None  # a known kid never triggers a fetch
        assert server.fetches == 2


def test_an_unreachable_provider_keeps_the_keys_held() -> None:
    now = [0.0]
    with JwksServer(jwks(RSA)).running() as server:
        keys = JwksKeys(server.url, refetch_seconds=0, clock=lambda: now[0])
        assert keys.key("rsa-1") is not None
    assert keys.key("other") is None  # the fetch fails: the server is gone
    assert keys.key("rsa-1") is not None


def test_a_hanging_provider_does_not_hold_the_token_and_its_keys_land_for_the_next() -> None:
    with JwksServer(jwks(RSA)).running() as server:
        server.gate.clear()
        keys = JwksKeys(server.url, wait_seconds=0)
        assert keys.key("rsa-1") is None  # refused at once, the fetch still running
        assert keys.key("rsa-1") is None  # joins that fetch: no second one
        server.gate.set()
        for _ in range(500):
            if keys.key("rsa-1") is not None:
                break
            time.sleep(0.01)
        assert keys.key("rsa-1") is not None
        assert server.fetches == 1
