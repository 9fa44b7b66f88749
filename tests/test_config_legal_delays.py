"""The legal delays of issue 15 as settings: their defaults are the law's, the
environment changes them, and they reach the retention rules the service and the job
read (a separate file from tests/test_config.py, which another change reworks)."""

from __future__ import annotations

import pytest

from vault.config import Config
from vault.domain.lifecycle import DEFAULT_RULES
from vault.errors import ConfigurationError


def test_the_legal_delays_default_to_the_law() -> None:
    rules = Config.from_env({}).retention_rules
    assert rules == DEFAULT_RULES
    assert (rules.held_back_release_months, rules.held_back_notice_days) == (1, 14)
    assert (rules.deletion_delay_days, rules.deletion_warning_days) == (90, 14)


def test_the_environment_sets_the_legal_delays() -> None:
    rules = Config.from_env(
        {
            "VAULT_HELD_BACK_RELEASE_MONTHS": "2",
            "VAULT_HELD_BACK_NOTICE_DAYS": "7",
            "VAULT_DELETION_DELAY_DAYS": "60",
            "VAULT_DELETION_WARNING_DAYS": "0",
        }
    ).retention_rules
    assert (rules.held_back_release_months, rules.held_back_notice_days) == (2, 7)
    assert (rules.deletion_delay_days, rules.deletion_warning_days) == (60, 0)


@pytest.mark.parametrize("name", ["VAULT_HELD_BACK_RELEASE_MONTHS", "VAULT_DELETION_DELAY_DAYS"])
def test_a_delay_of_zero_or_nonsense_is_refused_at_startup(name: str) -> None:
    for value in ("0", "0.5", "a month"):
        with pytest.raises(ConfigurationError, match=name):
            Config.from_env({name: value})
