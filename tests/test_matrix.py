"""The operator's authorisation matrix file."""

from __future__ import annotations

from pathlib import Path

import pytest

from vault.domain.model import DocumentCategory
from vault.domain.policy import DEFAULT_MATRIX, NO_RIGHTS, Rights
from vault.errors import ConfigurationError
from vault.matrix import load_matrix

EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "access-matrix.toml"


def test_the_documented_example_is_the_built_in_default() -> None:
    assert load_matrix(EXAMPLE) == DEFAULT_MATRIX


def test_the_older_form_still_loads_with_its_former_meaning(tmp_path: Path) -> None:
    """A list is what the profession reads; it writes every category but the
    reimbursement history, and only physicians break the glass (as before)."""
    path = tmp_path / "m.toml"
    path.write_text('[professions]\nphysician = ["*"]\nnurse = ["biology"]\nclerk = []\n')
    matrix = load_matrix(path)
    clinical = frozenset(DocumentCategory) - {DocumentCategory.REIMBURSEMENT_HISTORY}
    assert matrix.rights("physician") == Rights(frozenset(DocumentCategory), clinical, True)
    assert matrix.rights("nurse") == Rights(frozenset({DocumentCategory.BIOLOGY}), clinical)
    assert matrix.rights("clerk").read == frozenset()


def test_a_row_reads_writes_and_breaks_the_glass_as_its_cells_say(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(
        "[professions.nurse]\n"
        'read = ["biology", "vaccination"]\nwrite = ["vaccination"]\nemergency = true\n'
        '[professions."physician/occupational_medicine"]\nread = ["prevention"]\n'
        "[professions.physician]\n"
        'read = ["*"]\n'
    )
    matrix = load_matrix(path)
    c = DocumentCategory
    assert matrix.rights("nurse", "anything") == Rights(
        frozenset({c.BIOLOGY, c.VACCINATION}), frozenset({c.VACCINATION}), True
    )
    assert matrix.rights("physician", "occupational_medicine") == Rights(frozenset({c.PREVENTION}))
    assert matrix.rights("physician", "cardiology").read == frozenset(DocumentCategory)
    assert matrix.rights("physician").write == frozenset()  # a missing cell: nothing
    assert matrix.rights("astrologer") == NO_RIGHTS
    assert matrix.rights(None) == NO_RIGHTS


def test_every_cell_of_the_shipped_matrix_says_where_it_comes_from() -> None:
    """Each read, write and emergency cell carries a comment: its source in the arrêté
    of 26 October 2023, or "unverified" until someone checks it against the annex."""
    rows = 0
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.split("=")[0].strip() in {"read", "write", "emergency"}:
            rows += 1
            assert "#" in line or line.rstrip().endswith(","), line
    assert rows >= 3 * 14


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('[professions]\nnurse = ["astrology"]\n', "unknown category"),
        ('[professions]\nnurse = "biology"\n', "table of read, write and emergency"),
        ('[professions.nurse]\nread = "biology"\n', "list of category names"),
        ('[professions.nurse]\nreed = ["biology"]\n', "table of read, write and emergency"),
        ('[professions.nurse]\nemergency = "yes"\n', "true or false"),
        ('nurse = ["biology"]\n', "one \\[professions\\] table"),
        ('[professions]\nnurse = ["biology"]\n[extra]\n', "one \\[professions\\] table"),
        ("[professions\n", "cannot read"),
    ],
    ids=[
        "unknown-category",
        "not-a-list",
        "cell-not-a-list",
        "unknown-cell",
        "emergency-not-a-bool",
        "no-table",
        "extra-table",
        "not-toml",
    ],
)
def test_a_malformed_matrix_stops_the_server_with_a_clear_error(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "m.toml"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match=problem):
        load_matrix(path)


def test_a_missing_matrix_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_matrix(tmp_path / "absent.toml")
