"""`SqlDocuments`: the `DocumentIndex` port on SQL: the write order of a version
(reserve, renew, commit), reads, searches, counts, visibility changes and deletion.

Searches build one statement per combination of filters, once (`_search_statement`), and
the reads of a single version theirs at import. A listing's page and its count over all
pages are one statement (`search_page`: the count a scalar subquery of the page's).
Not here: discarding a reservation and finding lapsed ones (`sweep`), re-encryption
(`keys`), a dossier's destruction (`retention`).
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Integer,
    String,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy import exc as sa_exc

from vault.domain.clock import to_us
from vault.domain.model import (
    DocumentCategory,
    DocumentQuery,
    DocumentStatus,
    DossierState,
    Visibility,
)
from vault.domain.policy import Scope
from vault.errors import (
    ConflictError,
    DossierQuotaExceededError,
    FailedPreconditionError,
    NotFoundError,
)
from vault.index.records import Cursor, VersionRecord
from vault.index.sql.connection import SqlBase
from vault.index.sql.mapping import VERSION_COLUMNS, version_record
from vault.index.sql.notices import queue_deposit_notice
from vault.index.sql.tables import DOC, VIS, D, V, lapsed_before, pending_number, reservation

_IN_SCOPE = or_(
    and_(
        bindparam("scope_exempt", type_=Boolean),
        DOC.c.author == bindparam("scope_author", type_=String),
    ),
    and_(
        DOC.c.category.in_(bindparam("scope_categories", expanding=True)),
        DOC.c.visibility.op("&")(bindparam("scope_hidden", type_=Integer)) == 0,
        or_(
            DOC.c.visibility.op("&")(bindparam("scope_held", type_=Integer)) == 0,
            DOC.c.created_us <= bindparam("scope_released", type_=BigInteger),
        ),
    ),
)
"""The SQL twin of `Scope.admits`, with `_scope_parameters` (tests/index check that
they agree): a document whose author is `scope_author` is admitted when `scope_exempt`
(the author exemption, `Scope.author`); otherwise `scope_hidden` hides always,
`scope_held` (hidden from the patient) only documents deposited after `scope_released`
(their delay has not run). Never NULL (`documents.author` is NOT NULL, and a false
`scope_exempt` makes its branch false), so `~_IN_SCOPE` is exactly the rest."""

_NEVER_RELEASED = -(2**62)


def _scope_parameters(scope: Scope) -> dict[str, object]:
    held = scope.hidden & Visibility.HIDDEN_FROM_PATIENT
    released = scope.released_up_to_us
    return {
        "scope_categories": sorted(c.value for c in scope.categories),
        "scope_hidden": int(scope.hidden & ~held),
        "scope_held": int(held),
        "scope_released": _NEVER_RELEASED if released is None else released,
        "scope_exempt": scope.author is not None,
        "scope_author": scope.author or "",
    }


def _of_status(statuses: frozenset[DocumentStatus]) -> Any:
    """Committed versions are those up to the document's latest (a pending one is the
    next); the latest is current, those below it deprecated."""
    latest, version = DOC.c.latest_version, V.c.version
    if statuses == {DocumentStatus.CURRENT}:
        return version == latest
    if statuses == {DocumentStatus.DEPRECATED}:
        return version < latest
    return version <= latest


_PLACE = (DOC.c.created_us, DOC.c.id, V.c.version)  # a search's order, newest first


_FILTERS = {
    "categories": DOC.c.category.in_(bindparam("categories", expanding=True)),
    "type_codes": V.c.type_code.in_(bindparam("type_codes", expanding=True)),
    "author": DOC.c.author == bindparam("author"),
    "care_from": V.c.care_us >= bindparam("care_from"),
    "care_until": V.c.care_us < bindparam("care_until"),
    "document_id": DOC.c.id == bindparam("document_id"),
    "after": tuple_(*_PLACE)
    < tuple_(*(bindparam(f"after_{column.name}", type_=column.type) for column in _PLACE)),
}


def _search_parameters(
    dossier_id: uuid.UUID, scope: Scope, query: DocumentQuery, after: Cursor | None
) -> tuple[frozenset[str], dict[str, object]]:
    """The filters `query` and `after` set (names in `_FILTERS`), and the parameters."""
    given: dict[str, object] = {
        "categories": sorted(c.value for c in query.categories) or None,
        "type_codes": sorted(query.type_codes) or None,
        "author": query.author,
        "care_from": None if query.care_from is None else to_us(query.care_from),
        "care_until": None if query.care_until is None else to_us(query.care_until),
        "document_id": query.document_id,
    }
    parameters = {name: value for name, value in given.items() if value is not None}
    filters = set(parameters)
    if after is not None:
        filters.add("after")
        parameters["after_created_us"] = after.created_us
        parameters["after_id"] = after.document_id
        parameters["after_version"] = after.version
    parameters.update(dossier_id=dossier_id, **_scope_parameters(scope))
    return frozenset(filters), parameters


@functools.cache
def _search_statement(statuses: frozenset[DocumentStatus], filters: frozenset[str]) -> Any:
    """A search's statement for one combination of statuses and filters, built once: a
    listing then costs its parameters, not the 0.7 ms of building a statement
    (bench_index)."""
    return (
        select(*VERSION_COLUMNS)
        .join_from(DOC, V, V.c.document_id == DOC.c.id)
        .where(
            DOC.c.dossier_id == bindparam("dossier_id"),
            _IN_SCOPE,
            _of_status(statuses),
            *(_FILTERS[name] for name in sorted(filters)),
        )
        .order_by(*(column.desc() for column in _PLACE))
        .limit(bindparam("limit", type_=Integer))
    )


@functools.cache
def _count_statement(statuses: frozenset[DocumentStatus], filters: frozenset[str]) -> Any:
    """`_search_statement`'s count over all pages (same join and filters)."""
    return (
        select(func.count())
        .select_from(DOC.join(V, V.c.document_id == DOC.c.id))
        .where(
            DOC.c.dossier_id == bindparam("dossier_id"),
            _IN_SCOPE,
            _of_status(statuses),
            *(_FILTERS[name] for name in sorted(filters - {"after"})),
        )
    )


@functools.cache
def _counted_statement(statuses: frozenset[DocumentStatus], filters: frozenset[str]) -> Any:
    """`_search_statement` with the count over all its pages as a last column: an
    uncorrelated scalar subquery, which SQLite and PostgreSQL evaluate once per
    statement (the page keeps its own plan, the count its own), on the statement's one
    snapshot. Each page of a listing is then one statement instead of two."""
    total = _count_statement(statuses, filters).scalar_subquery().label("total")
    return _search_statement(statuses, filters).add_columns(total)


def _version_statement(wanted: Any) -> Any:
    return (
        select(*VERSION_COLUMNS)
        .join_from(DOC, V, V.c.document_id == DOC.c.id)
        .where(
            DOC.c.id == bindparam("document_id"),
            DOC.c.dossier_id == bindparam("dossier_id"),
            V.c.version == wanted,
            V.c.status == "committed",
        )
    )


_LATEST = _version_statement(DOC.c.latest_version)
_VERSION = _version_statement(bindparam("version", type_=Integer))
"""A document's latest or a given committed version: built once, like searches."""


# An upload's writes, built once (each upload runs them: their construction and cache
# keys were a fifth of a PutDocument's CPU); executed with the row's values.
_DOSSIER_STATE = select(D.c.state).where(D.c.id == bindparam("dossier_id")).with_for_update()
_INSERT_DOCUMENT, _INSERT_VISIBILITY, _INSERT_VERSION = insert(DOC), insert(VIS), insert(V)
_COMMIT_RESERVATION = (
    update(V)
    .where(  # `tables.reservation`, with bind parameters
        V.c.document_id == bindparam("b_document"),
        V.c.version == bindparam("b_version"),
        V.c.status == "pending",
        V.c.blob_key == bindparam("b_blob_key"),
    )
    .values(
        status="committed",
        size=bindparam("b_size"),
        ciphertext_size=bindparam("b_ciphertext_size"),
        sealed_metadata=bindparam("b_sealed_metadata"),
        lease_until_us=None,
    )
)
_MOVE_LATEST = (
    update(DOC)
    .where(DOC.c.id == bindparam("b_document"), DOC.c.latest_version == bindparam("b_from"))
    .values(latest_version=bindparam("b_to"))
)


_REPLACED_SIZE = func.coalesce(
    select(V.c.size)
    .where(
        V.c.document_id == bindparam("b_document"),
        V.c.version == bindparam("b_from"),
        V.c.status == "committed",
    )
    .scalar_subquery(),
    0,
)
_GROWTH = bindparam("b_size", type_=BigInteger) - _REPLACED_SIZE
_ADD_CONTENT = (
    update(D)
    .where(
        D.c.id == bindparam("b_dossier"),
        D.c.content_bytes + _GROWTH <= bindparam("b_quota", type_=BigInteger),
    )
    .values(content_bytes=D.c.content_bytes + _GROWTH)
)
"""A commit's change to its dossier's live content bytes (`dossiers.content_bytes`,
revision 0014): the new version's size less the one it replaces, if the total stays
within `b_quota`; no row updated otherwise. One statement that takes the dossier row's
lock, checks the quota and moves the total, instead of a SUM over the dossier's live
versions (O(documents), three times per upload before)."""

_LIVE_SIZE = select(D.c.content_bytes).where(D.c.id == bindparam("dossier_id"))
_NO_QUOTA = 2**62
_QUOTA_MESSAGE = "the dossier's documents would exceed its quota (VAULT_MAX_DOSSIER_GIB)"


class SqlDocuments(SqlBase):
    def content_size(self, dossier_id: uuid.UUID) -> int:
        with self._connect() as conn:
            return int(conn.execute(_LIVE_SIZE, {"dossier_id": dossier_id}).scalar() or 0)

    def reserve_version(self, record: VersionRecord, lease_until_us: int) -> None:
        try:
            with self._connect(write=True) as conn:
                # under the dossier row's lock: a closure or a destruction's manifest
                # either comes before (and this write is refused) or sees this version
                state = conn.execute(_DOSSIER_STATE, {"dossier_id": record.dossier_id})
                if state.scalar() != DossierState.ACTIVE.value:
                    raise FailedPreconditionError("the dossier is not active")
                if record.version == 1:
                    self._insert_document(conn, record)
                else:
                    self._check_replaced(conn, record)
                    self._take_over_lapsed(conn, record, lease_until_us - record.created_us)
                conn.execute(
                    _INSERT_VERSION,
                    {
                        "document_id": record.document_id,
                        "version": record.version,
                        "status": "pending",
                        "created_us": record.created_us,
                        "blob_key": record.blob_key,
                        "dossier_key_version": record.dossier_key_version,
                        "wrapped_key": record.wrapped_key,
                        "sealed_metadata": record.sealed_metadata,
                        "size": 0,
                        "ciphertext_size": 0,
                        "type_code": record.type_code or None,
                        "care_us": record.care_us,
                        "lease_until_us": lease_until_us,
                    },
                )
        except sa_exc.IntegrityError:
            # the primary key (document, version) is the arbiter between two writers
            raise ConflictError("another version of this document is being written") from None

    @staticmethod
    def _take_over_lapsed(conn: Connection, record: VersionRecord, lease_us: int) -> None:
        """Removes another upload's reservation of this version if its lease lapsed (its
        server crashed, or its client stopped sending); its blob is left to the sweeper.
        A reservation without a lease (from a server older than revision 0006) is given
        `lease_us` from its creation."""
        lapsed = lapsed_before(record.created_us, lease_us)
        conn.execute(delete(V).where(pending_number(record), lapsed))

    def renew_reservation(self, record: VersionRecord, lease_until_us: int) -> bool:
        with self._connect(write=True) as conn:
            renewed = conn.execute(
                update(V).where(reservation(record)).values(lease_until_us=lease_until_us)
            )
            return renewed.rowcount == 1

    @staticmethod
    def _check_replaced(conn: Connection, record: VersionRecord) -> None:
        """Refuses the reservation unless the document is still in the dossier at the
        version `record` replaces: NOT_FOUND if it is gone (the message of a document the
        caller may not see), ABORTED if a newer version was committed meanwhile."""
        found = select(DOC.c.latest_version).where(
            DOC.c.id == record.document_id, DOC.c.dossier_id == record.dossier_id
        )
        latest = conn.execute(found).scalar()
        if latest is None:
            raise NotFoundError("no such document")
        if latest != record.version - 1:
            raise ConflictError("the document has a newer version than the one replaced")

    @staticmethod
    def _insert_document(conn: Connection, record: VersionRecord) -> None:
        conn.execute(
            _INSERT_DOCUMENT,
            {
                "id": record.document_id,
                "dossier_id": record.dossier_id,
                "category": record.category.value,
                "created_us": record.created_us,
                "latest_version": 0,
                "visibility": int(record.visibility),
                "metadata_version": 1,
                "author": record.author,
            },
        )
        conn.execute(
            _INSERT_VISIBILITY,
            {
                "document_id": record.document_id,
                "metadata_version": 1,
                "visibility": int(record.visibility),
                "changed_us": record.created_us,
                "changed_by": record.author,
            },
        )

    def commit_version(self, record: VersionRecord, quota: int | None = None) -> None:
        with self._connect(write=True) as conn:
            # takes the dossier row's lock: two commits in one dossier take turns, so
            # each sees the other's size (SQLite: one writer at a time anyway)
            added = conn.execute(
                _ADD_CONTENT,
                {
                    "b_dossier": record.dossier_id,
                    "b_document": record.document_id,
                    "b_from": record.version - 1,
                    "b_size": record.size,
                    "b_quota": _NO_QUOTA if quota is None else quota,
                },
            )
            if added.rowcount != 1:
                raise DossierQuotaExceededError(_QUOTA_MESSAGE)
            updated = conn.execute(
                _COMMIT_RESERVATION,
                {
                    "b_document": record.document_id,
                    "b_version": record.version,
                    "b_blob_key": record.blob_key,
                    "b_size": record.size,
                    "b_ciphertext_size": record.ciphertext_size,
                    "b_sealed_metadata": record.sealed_metadata,
                },
            )
            if updated.rowcount != 1:
                raise ConflictError(
                    "the upload's reservation is gone: it lapsed and another upload took "
                    "its version, or it was swept"
                )
            moved = conn.execute(
                _MOVE_LATEST,
                {
                    "b_document": record.document_id,
                    "b_from": record.version - 1,
                    "b_to": record.version,
                },
            )
            if moved.rowcount != 1:  # cannot happen while reserve_version holds the number
                raise ConflictError("the document has a newer version than the one replaced")
            queue_deposit_notice(conn, record)  # the holder's opt-in (notices.py)

    def version(
        self, dossier_id: uuid.UUID, document_id: uuid.UUID, version: int | None
    ) -> VersionRecord | None:
        query = _LATEST if version is None else _VERSION
        parameters = {"document_id": document_id, "dossier_id": dossier_id, "version": version}
        with self._connect() as conn:
            row = conn.execute(query, parameters).first()
        return None if row is None else version_record(row)

    def search(
        self,
        dossier_id: uuid.UUID,
        scope: Scope,
        query: DocumentQuery,
        limit: int,
        after: Cursor | None = None,
    ) -> list[VersionRecord]:
        filters, parameters = _search_parameters(dossier_id, scope, query, after)
        statement = _search_statement(query.wanted_statuses, filters)
        with self._connect() as conn:
            rows = conn.execute(statement, {**parameters, "limit": limit}).all()
        return [version_record(row) for row in rows]

    def search_count(self, dossier_id: uuid.UUID, scope: Scope, query: DocumentQuery) -> int:
        filters, parameters = _search_parameters(dossier_id, scope, query, None)
        statement = _count_statement(query.wanted_statuses, filters)
        with self._connect() as conn:
            return int(conn.execute(statement, parameters).scalar_one())

    def search_page(
        self,
        dossier_id: uuid.UUID,
        scope: Scope,
        query: DocumentQuery,
        limit: int,
        after: Cursor | None = None,
    ) -> tuple[list[VersionRecord], int]:
        filters, parameters = _search_parameters(dossier_id, scope, query, after)
        statement = _counted_statement(query.wanted_statuses, filters)
        with self._connect() as conn:
            rows = conn.execute(statement, {**parameters, "limit": limit}).all()
            if rows:
                total = int(rows[0][-1])
            elif after is None:
                total = 0  # nothing at all, not only nothing on this page
            else:  # past the last page: the count alone
                count = _count_statement(query.wanted_statuses, filters)
                total = int(conn.execute(count, parameters).scalar_one())
        return [version_record(row[:-1]) for row in rows], total

    def category_counts(self, dossier_id: uuid.UUID, scope: Scope) -> dict[DocumentCategory, int]:
        query = (
            select(DOC.c.category, func.count())
            .where(DOC.c.dossier_id == dossier_id, DOC.c.latest_version > 0, _IN_SCOPE)
            .group_by(DOC.c.category)
        )
        with self._connect() as conn:
            rows = conn.execute(query, _scope_parameters(scope))
            return {DocumentCategory(c): int(n) for c, n in rows}

    def documents_outside(self, dossier_id: uuid.UUID, scope: Scope) -> set[uuid.UUID]:
        query = select(DOC.c.id).where(DOC.c.dossier_id == dossier_id, ~_IN_SCOPE)
        with self._connect() as conn:
            return set(conn.execute(query, _scope_parameters(scope)).scalars())

    def set_visibility(
        self, record: VersionRecord, visibility: Visibility, changed_us: int, changed_by: str
    ) -> bool:
        new_version = record.metadata_version + 1
        with self._connect(write=True) as conn:
            updated = conn.execute(
                update(DOC)
                .where(
                    DOC.c.id == record.document_id,
                    DOC.c.metadata_version == record.metadata_version,
                )
                .values(visibility=int(visibility), metadata_version=new_version)
            )
            if updated.rowcount != 1:
                return False
            conn.execute(
                insert(VIS).values(
                    document_id=record.document_id,
                    metadata_version=new_version,
                    visibility=int(visibility),
                    changed_us=changed_us,
                    changed_by=changed_by,
                )
            )
        return True

    def delete_document(self, dossier_id: uuid.UUID, document_id: uuid.UUID) -> list[str]:
        owned = and_(DOC.c.id == document_id, DOC.c.dossier_id == dossier_id)
        with self._connect(write=True) as conn:
            if conn.execute(select(DOC.c.id).where(owned)).first() is None:
                return []
            keys = list(
                conn.execute(select(V.c.blob_key).where(V.c.document_id == document_id)).scalars()
            )
            live = (
                select(V.c.size)
                .join_from(DOC, V, V.c.document_id == DOC.c.id)
                .where(DOC.c.id == document_id, V.c.version == DOC.c.latest_version)
                .scalar_subquery()
            )
            conn.execute(  # its live version no longer counts (revision 0014)
                update(D)
                .where(D.c.id == dossier_id)
                .values(content_bytes=D.c.content_bytes - func.coalesce(live, 0))
            )
            conn.execute(delete(V).where(V.c.document_id == document_id))
            conn.execute(delete(VIS).where(VIS.c.document_id == document_id))
            conn.execute(delete(DOC).where(owned))
        return keys
