"""Certificate identities and which actor kinds they may assert: the client kinds file,
its mistakes, and the verifier that refuses a token its caller's certificate may not
carry."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.conftest import PATIENT_INS
from tests.pki import Issued, TestCA, dns, uri
from vault.auth import TokenVerifier, mint_token
from vault.domain.model import Actor, ActorKind
from vault.errors import ConfigurationError, UnauthenticatedError
from vault.tls_material import (
    ClientKinds,
    PeerIdentity,
    bind_call_peer,
    client_credentials,
    load_key_pair,
)

KINDS = ClientKinds.parse(
    """
    [[client]]
    uri = "spiffe://dmp.test/patient-portal"
    kinds = ["patient", "legal_representative"]

    [[client]]
    dns = "Pro-Portal.dmp.test"
    kinds = ["professional"]

    [[client]]
    cn = "operator-tool"
    kinds = ["operator"]

    [[client]]
    cn = "audit-tool"
    kinds = ["auditor"]
    """,
    "test",
)


def _peer(issued: Issued) -> PeerIdentity:
    return PeerIdentity.from_certificate(x509.load_pem_x509_certificate(issued.cert.read_bytes()))


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path, "portals")


def test_patient_portal_certificate_asserts_patients_and_representatives_only(
    ca: TestCA,
) -> None:
    portal = _peer(ca.issue("pp", names=(uri("spiffe://dmp.test/patient-portal"),)))
    assert KINDS.kinds_for(portal) == {ActorKind.PATIENT, ActorKind.LEGAL_REPRESENTATIVE}
    KINDS.check(portal, ActorKind.PATIENT)
    with pytest.raises(UnauthenticatedError, match="this actor kind"):
        KINDS.check(portal, ActorKind.PROFESSIONAL)


def test_a_uri_in_the_common_name_does_not_pass_for_a_san_uri(ca: TestCA) -> None:
    impostor = _peer(ca.issue("cn", common_name="spiffe://dmp.test/patient-portal"))
    assert KINDS.kinds_for(impostor) == frozenset()


def test_dns_names_match_whatever_their_case(ca: TestCA) -> None:
    portal = _peer(ca.issue("pro", names=(dns("PRO-portal.DMP.test"),)))
    assert KINDS.kinds_for(portal) == {ActorKind.PROFESSIONAL}


def test_a_certificate_matching_two_rules_asserts_the_kinds_of_both(ca: TestCA) -> None:
    both = _peer(ca.issue("both", common_name="audit-tool", names=(dns("pro-portal.dmp.test"),)))
    assert KINDS.kinds_for(both) == {ActorKind.PROFESSIONAL, ActorKind.AUDITOR}


def test_unknown_certificate_or_none_asserts_nothing(ca: TestCA) -> None:
    with pytest.raises(UnauthenticatedError, match="any actor kind"):
        KINDS.check(_peer(ca.issue("x", common_name="stranger")), ActorKind.PATIENT)
    with pytest.raises(UnauthenticatedError, match="no client certificate"):
        KINDS.check(None, ActorKind.PATIENT)


def test_peer_identity_shows_only_its_fingerprint(ca: TestCA) -> None:
    peer = _peer(ca.issue("card", common_name="Dr Jeanne Martin 10000000009"))
    assert "Martin" not in repr(peer)
    assert "1000000" not in repr(peer)
    assert peer.fingerprint in repr(peer)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[client]]\nuri = "a"\ncn = "b"\nkinds = ["patient"]', "exactly one of"),
        ('[[client]]\nkinds = ["patient"]', "exactly one of"),
        ('[[client]]\ncn = "a"\nkinds = ["doctor"]', "kinds must be among"),
        ('[[client]]\ncn = "a"\nkinds = []', "non-empty list"),
        ('[[client]]\ncn = "a"\nkind = ["patient"]', "unknown keys"),
        (
            '[[client]]\ncn = "a"\nkinds = ["patient"]\n[[client]]\ncn = "b"\nkinds = ["x"]',
            "client entry 2",
        ),
        (
            '[[client]]\ncn = "a"\nkinds = ["patient"]\n[[client]]\ncn = "a"\nkinds = ["auditor"]',
            "two entries",
        ),
        ('[[clients]]\ncn = "a"\nkinds = ["patient"]', "expected [[client]]"),
        ("[[client]\n", "not valid TOML"),
    ],
    ids=[
        "two-names",
        "no-name",
        "unknown-kind",
        "no-kinds",
        "misspelt-key",
        "bad-kind-in-second",
        "duplicate-name",
        "misspelt-table",
        "not-toml",
    ],
)
def test_a_mistaken_client_kinds_file_stops_the_server(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[")):
        ClientKinds.parse(text, "kinds.toml")


def test_missing_client_kinds_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        ClientKinds.load(tmp_path / "absent.toml")


def test_a_key_that_is_not_the_certificates_is_refused(ca: TestCA) -> None:
    one, other = ca.issue("one"), ca.issue("other")
    with pytest.raises(ConfigurationError, match="does not match"):
        load_key_pair(one.cert, other.key, "server")
    with pytest.raises(ConfigurationError, match="does not match"):
        client_credentials(ca.bundle, one.cert, other.key)


def test_client_certificate_without_its_key_is_refused(ca: TestCA) -> None:
    with pytest.raises(ConfigurationError, match="needs its key"):
        client_credentials(ca.bundle, ca.issue("one").cert, None)


def test_a_file_without_pem_is_refused(tmp_path: Path, ca: TestCA) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(ConfigurationError, match="no PEM certificate"):
        client_credentials(garbage)
    with pytest.raises(ConfigurationError, match="no usable PEM private key"):
        load_key_pair(ca.issue("one").cert, garbage, "server")


# -- the verifier ------------------------------------------------------------------------

ISSUER = Ed25519PrivateKey.generate()
VERIFIER = TokenVerifier.from_keys([ISSUER.public_key()], "dossier-vault-dev", client_kinds=KINDS)


def _token(kind: ActorKind, subject: str = PATIENT_INS) -> str:
    return mint_token(ISSUER, kind=kind, subject=subject, ttl_seconds=60)


def test_verifier_accepts_a_kind_the_certificate_may_assert(ca: TestCA) -> None:
    portal = _peer(ca.issue("pp", names=(uri("spiffe://dmp.test/patient-portal"),)))
    token = _token(ActorKind.PATIENT)
    assert VERIFIER.verify(token, peer=portal) == Actor(ActorKind.PATIENT, PATIENT_INS)


def test_verifier_refuses_a_professional_token_from_the_patient_portal(ca: TestCA) -> None:
    portal = _peer(ca.issue("pp", names=(uri("spiffe://dmp.test/patient-portal"),)))
    with pytest.raises(UnauthenticatedError):
        VERIFIER.verify(_token(ActorKind.PROFESSIONAL, "10000000009"), peer=portal)


def test_verifier_with_client_kinds_refuses_a_call_with_no_certificate_bound() -> None:
    bind_call_peer(None)
    with pytest.raises(UnauthenticatedError, match="no client certificate"):
        VERIFIER.verify(_token(ActorKind.PATIENT))


def test_verifier_reads_the_certificate_bound_to_the_call(ca: TestCA) -> None:
    bind_call_peer(_peer(ca.issue("pro", names=(dns("pro-portal.dmp.test"),))))
    try:
        with pytest.raises(UnauthenticatedError, match="this actor kind"):
            VERIFIER.verify(_token(ActorKind.PATIENT))
    finally:
        bind_call_peer(None)


def test_verifier_without_client_kinds_ignores_certificates() -> None:
    plain = TokenVerifier.from_keys([ISSUER.public_key()], "dossier-vault-dev")
    assert plain.verify(_token(ActorKind.PATIENT)).kind is ActorKind.PATIENT
