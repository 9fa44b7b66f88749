"""`SqlLifecycle`: the `LifecycleIndex` port on SQL: a dossier's lifecycle moves
(compare-and-set) and its legal holds.

A destruction begun fences both: no lifecycle move and no new hold reaches the dossier
after it. Not here: which moves are allowed (vault/domain/lifecycle.py), destructions
themselves (`retention`).
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, insert, select, update

from vault.domain.lifecycle import LegalHold, Lifecycle
from vault.index.sql.connection import SqlBase
from vault.index.sql.mapping import hold_record, lifecycle_columns
from vault.index.sql.tables import DESTROY, HOLD, D


class _TooLateError(Exception):
    """Rolls back a hold whose dossier's destruction has begun."""


def _begun(dossier_id: uuid.UUID) -> Select[tuple[uuid.UUID]]:
    """The dossier's destruction, once begun."""
    return select(DESTROY.c.dossier_id).where(DESTROY.c.dossier_id == dossier_id)


class SqlLifecycle(SqlBase):
    def set_lifecycle(self, dossier_id: uuid.UUID, expected: Lifecycle, new: Lifecycle) -> bool:
        where = [D.c.id == dossier_id, ~_begun(dossier_id).exists()]  # a destruction begun is final
        where += [D.c[name] == value for name, value in lifecycle_columns(expected).items()]
        statement = update(D).where(*where).values(**lifecycle_columns(new))
        with self._connect(write=True) as conn:
            return bool(conn.execute(statement).rowcount == 1)

    def add_hold(self, hold: LegalHold) -> int:
        try:
            with self._connect(write=True) as conn:
                # the dossier row first: a destruction beginning meanwhile waits for it
                conn.execute(update(D).where(D.c.id == hold.dossier_id).values(holds=D.c.holds + 1))
                if conn.execute(_begun(hold.dossier_id)).first() is not None:
                    raise _TooLateError
                inserted = conn.execute(
                    insert(HOLD).values(
                        dossier_id=hold.dossier_id,
                        placed_us=hold.placed_us,
                        placed_by=hold.placed_by,
                        reason=hold.reason,
                    )
                )
        except _TooLateError:
            return 0
        key = inserted.inserted_primary_key
        assert key is not None
        return int(key[0])

    def release_hold(self, hold: LegalHold) -> bool:
        with self._connect(write=True) as conn:
            released = conn.execute(
                update(HOLD)
                .where(
                    HOLD.c.id == hold.hold_id,
                    HOLD.c.dossier_id == hold.dossier_id,
                    HOLD.c.released_us.is_(None),
                )
                .values(
                    released_us=hold.released_us,
                    released_by=hold.released_by,
                    release_reason=hold.release_reason,
                )
            )
            if released.rowcount != 1:
                return False
            conn.execute(update(D).where(D.c.id == hold.dossier_id).values(holds=D.c.holds - 1))
        return True

    def holds(self, dossier_id: uuid.UUID) -> list[LegalHold]:
        query = select(HOLD).where(HOLD.c.dossier_id == dossier_id).order_by(HOLD.c.id)
        with self._connect() as conn:
            return [hold_record(row) for row in conn.execute(query)]
