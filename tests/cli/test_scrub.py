"""`dossier-vault scrub` on a real server's data directory: exit 0 when every blob
verifies, EXIT_DAMAGED and the damaged version's opaque ids (no title) when one does
not, progress on standard error, and the rate flags turned into the limiter's sleeps."""

from __future__ import annotations

import json

import pytest

from tests.conftest import RunningVault
from tests.test_scrub import FakeTime, blob_file, blob_keys, store
from vault.cli import build_parser, main
from vault.cli.exitcodes import EXIT_DAMAGED
from vault.cli.scrub import STATE_FILE, limiter_for
from vault.errors import InvalidArgumentError

TITLE = "Compte rendu d'hospitalisation"  # REPORT's, which every stored document has


@pytest.fixture
def on_server_host(
    running_vault: RunningVault, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> RunningVault:
    """The server's configuration in the environment, as `gc` and `scrub` read it."""
    monkeypatch.setenv("VAULT_DATA_DIR", str(running_vault.config.data_dir))
    monkeypatch.setenv("VAULT_DATABASE_URL", db_url)
    return running_vault


def test_a_clean_store_exits_0_and_a_damaged_one_exits_with_the_scrub_code(
    on_server_host: RunningVault, capsys: pytest.CaptureFixture[str]
) -> None:
    documents = store(on_server_host, ["sound", "rotten"])
    assert main(["scrub", "--json"]) == 0
    clean = json.loads(capsys.readouterr().out)
    assert (clean["checked"], clean["damaged"]) == (2, [])

    config = on_server_host.config
    dossier_id, document_id = documents["rotten"]
    rotten = blob_file(config, blob_keys(config)[document_id])
    rotten.write_bytes(rotten.read_bytes()[:-1])  # a byte lost at the end

    assert main(["scrub", "--json"]) == EXIT_DAMAGED
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["damaged"] == [
        {
            "dossier_id": str(dossier_id),
            "document_id": str(document_id),
            "version": 1,
            "kind": "corrupt",
        }
    ]
    assert "2 versions checked" in err
    assert "1 damaged" in err
    assert TITLE not in out + err
    assert not (config.data_dir / STATE_FILE).exists()

    assert main(["scrub"]) == EXIT_DAMAGED
    text = capsys.readouterr().out
    assert f"document {document_id} version 1" in text
    assert TITLE not in text


def test_resume_without_a_saved_cursor_walks_from_the_start(
    on_server_host: RunningVault, capsys: pytest.CaptureFixture[str]
) -> None:
    store(on_server_host, ["a", "b"])
    assert main(["scrub", "--resume", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["checked"] == 2


def test_the_rate_flags_become_the_limiters_ceilings() -> None:
    args = build_parser().parse_args(
        ["scrub", "--max-mib-per-second", "4", "--max-objects-per-second", "100"]
    )
    fake = FakeTime()
    limiter = limiter_for(args, fake.clock, fake.sleep)
    limiter.start()
    assert limiter.account(2 * 1024 * 1024, 1) == 0.5  # 2 MiB at 4 MiB/s
    assert limiter.account(0, 99) == 0.5  # 100 objects due at 1 s, as are the 2 MiB
    assert limiter.account(0, 100) == 1.0
    unlimited = limiter_for(build_parser().parse_args(["scrub"]), fake.clock, fake.sleep)
    assert unlimited.account(10**12, 10**6) == 0.0


@pytest.mark.parametrize("flag", ["--max-mib-per-second", "--max-objects-per-second"])
@pytest.mark.parametrize("value", ["0", "-1", "fast"])
def test_a_rate_that_is_not_positive_is_a_usage_error(flag: str, value: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["scrub", flag, value])
    assert stopped.value.code == 2


def test_help_lists_the_damage_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["scrub", "--help"])
    assert f"{EXIT_DAMAGED:<3} damage found" in capsys.readouterr().out


@pytest.mark.parametrize(
    "saved", ["{", "{}", '{"cursor": "x:1", "checked": 1, "bytes_read": 0, "damaged": []}']
)
def test_a_state_file_that_is_not_one_is_refused_not_resumed_from(
    on_server_host: RunningVault, capsys: pytest.CaptureFixture[str], saved: str
) -> None:
    (on_server_host.config.data_dir / STATE_FILE).write_text(saved)
    assert main(["scrub", "--resume"]) == InvalidArgumentError.exit_code
    assert "remove it to scrub from the start" in capsys.readouterr().err
