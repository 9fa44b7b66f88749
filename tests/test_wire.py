"""The wire mapping's timestamps: any value a peer can put in a Timestamp maps to a
datetime or microseconds the vault can hold, or is an InvalidArgumentError, never a
ValueError or OverflowError that would end a call INTERNAL; access entries and care
teams cross it unchanged."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault import wire, wire_grants
from vault.domain.model import DECLARED_CONSENT, CareTeam, Relation, Relationship
from vault.errors import InvalidArgumentError
from vault.v1 import vault_pb2 as pb

SECONDS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([wire.MIN_TIMESTAMP_SECONDS - 1, wire.MAX_TIMESTAMP_SECONDS + 1, 2**62]),
)
NANOS = st.one_of(st.integers(-(2**31), 2**31 - 1), st.sampled_from([-1, 10**9]))


@settings(max_examples=300)
@given(seconds=SECONDS, nanos=NANOS)
def test_any_timestamp_maps_or_is_invalid(seconds: int, nanos: int) -> None:
    request = pb.ExportJournalRequest()
    request.since.seconds, request.since.nanos = seconds, nanos
    listing = pb.ListDocumentsRequest()
    listing.care_from.CopyFrom(request.since)
    if wire.valid_timestamp(request.since):
        assert -(2**63) <= (wire.optional_time_us(request, "since") or 0) < 2**63
        assert wire.query_from_proto(listing).care_from is not None
    else:
        with pytest.raises(InvalidArgumentError, match="since is not a valid timestamp"):
            wire.optional_time_us(request, "since")
        with pytest.raises(InvalidArgumentError, match="care_from is not a valid timestamp"):
            wire.query_from_proto(listing)


@pytest.mark.parametrize(
    ("seconds", "nanos", "valid"),
    [
        (wire.MIN_TIMESTAMP_SECONDS, 0, True),
        (wire.MAX_TIMESTAMP_SECONDS, wire.MAX_NANOS, True),
        (wire.MIN_TIMESTAMP_SECONDS - 1, 0, False),
        (wire.MAX_TIMESTAMP_SECONDS + 1, 0, False),
        (0, -1, False),
        (0, 10**9, False),
        (2**62, 0, False),
        (-(2**62), 0, False),
    ],
)
def test_a_care_date_outside_the_timestamp_range_is_invalid(
    seconds: int, nanos: int, valid: bool
) -> None:
    metadata = pb.DocumentMetadata(category=pb.DOCUMENT_CATEGORY_REPORTS)
    metadata.care_date.seconds, metadata.care_date.nanos = seconds, nanos
    if valid:
        assert wire.metadata_from_proto(metadata).care_date is not None
    else:
        with pytest.raises(InvalidArgumentError, match="care_date"):
            wire.metadata_from_proto(metadata)


@given(
    st.sampled_from([None, "vital_emergency", DECLARED_CONSENT]),
    st.sampled_from([Relation.AUTHORISED, Relation.EMERGENCY]),
)
def test_an_access_entry_keeps_a_declared_consent_apart_from_an_emergency_reason(
    detail: str | None, relation: Relation
) -> None:
    dossier = uuid.uuid4()
    entry = Relationship(dossier, relation, "10000000017", 1, 2, "physician", detail)
    assert wire.access_entry_from_proto(dossier, wire.access_entry_to_proto(entry)) == entry


@given(st.text(min_size=1, max_size=200), st.lists(st.text(max_size=14), max_size=5))
def test_a_care_team_crosses_the_wire_unchanged(name: str, members: list[str]) -> None:
    dossier = uuid.uuid4()
    team = CareTeam(dossier, uuid.uuid4(), name, tuple(members), 1_000_000, 2_000_000)
    assert wire_grants.care_team_from_proto(dossier, wire_grants.care_team_to_proto(team)) == team
