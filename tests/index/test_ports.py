"""The index's ports and the SQL adapter's modules split the same way: each role class
implements its port (mypy checks the typed assignments), the ports share no method and
together make `Index`, and each method is written in its role's module only."""

from __future__ import annotations

import inspect

import pytest

from vault.index import base
from vault.index.receipts import ReceiptIndex
from vault.index.sql import SqlIndex
from vault.index.sql.access import SqlAccess
from vault.index.sql.births import SqlBirths
from vault.index.sql.careteams import SqlCareTeams
from vault.index.sql.documents import SqlDocuments
from vault.index.sql.dossiers import SqlDossiers
from vault.index.sql.heirs import SqlHeirs
from vault.index.sql.keys import SqlKeys
from vault.index.sql.lifecycle import SqlLifecycle
from vault.index.sql.notices import SqlNotices
from vault.index.sql.overrides import SqlOverrides
from vault.index.sql.receipts import SqlReceipts
from vault.index.sql.retention import SqlRetention
from vault.index.sql.scope import SqlReadScope
from vault.index.sql.scrub import SqlScrub
from vault.index.sql.standing import SqlStanding
from vault.index.sql.sweep import SqlSweep
from vault.index.standing import StandingIndex
from vault.sqlstore import make_engine

ROLES: list[tuple[type, type]] = [
    (base.ReadScope, SqlReadScope),
    (base.DossierIndex, SqlDossiers),
    (base.DocumentIndex, SqlDocuments),
    (base.AccessIndex, SqlAccess),
    (base.CareTeamIndex, SqlCareTeams),
    (base.LifecycleIndex, SqlLifecycle),
    (base.HeirIndex, SqlHeirs),
    (base.NoticeIndex, SqlNotices),
    (base.OverrideIndex, SqlOverrides),
    (base.BirthIndex, SqlBirths),
    (ReceiptIndex, SqlReceipts),
    (base.RetentionIndex, SqlRetention),
    (base.KeyIndex, SqlKeys),
    (base.SweepIndex, SqlSweep),
    (base.ScrubIndex, SqlScrub),
    (StandingIndex, SqlStanding),
]


def _methods(cls: type) -> set[str]:
    """The public methods `cls` itself defines (not those it inherits)."""
    return {name for name, value in vars(cls).items() if inspect.isfunction(value)} - {
        name for name in vars(cls) if name.startswith("_")
    }


def test_each_role_class_satisfies_its_port_and_the_index_all() -> None:
    engine = make_engine("sqlite://")
    dossiers: base.DossierIndex = SqlDossiers(engine)
    documents: base.DocumentIndex = SqlDocuments(engine)
    access: base.AccessIndex = SqlAccess(engine)
    lifecycle: base.LifecycleIndex = SqlLifecycle(engine)
    heirs: base.HeirIndex = SqlHeirs(engine)
    notices: base.NoticeIndex = SqlNotices(engine)
    overrides: base.OverrideIndex = SqlOverrides(engine)
    births: base.BirthIndex = SqlBirths(engine)
    receipts: ReceiptIndex = SqlReceipts(engine)
    retention: base.RetentionIndex = SqlRetention(engine)
    keys: base.KeyIndex = SqlKeys(engine)
    sweep: base.SweepIndex = SqlSweep(engine)
    scrub: base.ScrubIndex = SqlScrub(engine)
    scope: base.ReadScope = SqlReadScope(engine)
    teams: base.CareTeamIndex = SqlCareTeams(engine)
    standing: StandingIndex = SqlStanding(engine)
    index: base.Index = SqlIndex(engine)
    # the typed assignments are the signature check (mypy); at run time, every method of
    # each port is there
    roles = (
        scope,
        dossiers,
        documents,
        access,
        teams,
        lifecycle,
        heirs,
        notices,
        overrides,
        births,
        receipts,
        retention,
        keys,
        sweep,
        scrub,
        standing,
    )
    for (port, _), role in zip(ROLES, roles, strict=True):
        assert _methods(port) <= set(dir(role)), port.__name__
    assert {m for port, _ in ROLES for m in _methods(port)} <= set(dir(index))


def test_the_ports_share_no_method_and_make_the_whole_index() -> None:
    ports = [_methods(port) for port, _ in ROLES]
    every = [name for methods in ports for name in methods]
    assert len(every) == len(set(every))
    index_methods = {name for name in dir(base.Index) if not name.startswith("_")}
    assert set(every) == index_methods


@pytest.mark.parametrize(("port", "role"), ROLES, ids=lambda x: x.__name__)
def test_each_method_is_written_in_its_roles_module_only(port: type, role: type) -> None:
    assert _methods(role) == _methods(port)
