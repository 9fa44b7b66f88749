"""The operator's authorisation matrix file."""

from __future__ import annotations

from pathlib import Path

import pytest

from vault.domain.model import DocumentCategory
from vault.domain.policy import DEFAULT_MATRIX
from vault.errors import ConfigurationError
from vault.matrix import load_matrix

EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "access-matrix.toml"


def test_the_documented_example_is_the_built_in_default() -> None:
    assert load_matrix(EXAMPLE) == DEFAULT_MATRIX


def test_a_star_grants_every_category_and_a_list_only_its_own(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('[professions]\nphysician = ["*"]\nnurse = ["biology"]\nclerk = []\n')
    matrix = load_matrix(path)
    assert matrix["physician"] == frozenset(DocumentCategory)
    assert matrix["nurse"] == {DocumentCategory.BIOLOGY}
    assert matrix["clerk"] == frozenset()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('[professions]\nnurse = ["astrology"]\n', "unknown category"),
        ('[professions]\nnurse = "biology"\n', "list of category names"),
        ('nurse = ["biology"]\n', "one \\[professions\\] table"),
        ('[professions]\nnurse = ["biology"]\n[extra]\n', "one \\[professions\\] table"),
        ("[professions\n", "cannot read"),
    ],
    ids=["unknown-category", "not-a-list", "no-table", "extra-table", "not-toml"],
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
