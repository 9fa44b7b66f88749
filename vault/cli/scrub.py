"""`dossier-vault scrub`: reads every committed blob back and reports the damaged versions.

Run on the server host with the server's configuration (VAULT_*), like `gc`: the job is
vault/scrub.py. Progress goes to standard error (versions checked, bytes read, damaged
so far, the cursor) every few seconds; the report to standard output, as text or
`--json`, names damaged versions by opaque ids only. The position reached is saved in
the data directory (`scrub-state.json`, with the counts and damage found so far) as the
run goes and when it is interrupted; `--resume` continues from it, and a run that
reaches the end removes it. Exit 0: nothing damaged; EXIT_DAMAGED: damage found.
What it does not: repair, or talk to a server over gRPC.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vault.cli.exitcodes import EXIT_DAMAGED, epilog, error_codes
from vault.cli.output import print_json

if TYPE_CHECKING:
    from vault.config import Config
    from vault.scrub import Damage, RateLimiter, Scrubber, ScrubProgress

STATE_FILE = "scrub-state.json"
PROGRESS_EVERY_SECONDS = 5.0
MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ScrubReport:
    """A whole scrub, resumed runs included: what `--json` prints."""

    checked: int
    bytes_read: int
    damaged: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def open_scrubber(config: Config, limiter: RateLimiter) -> Iterator[Scrubber]:
    """The scrub on the server's index, blob store and key provider."""
    from vault.composition import blob_store, close_keys, key_provider, open_index
    from vault.scrub import Scrubber

    keys = key_provider(config)
    index = open_index(config)
    try:
        yield Scrubber(index, blob_store(config), keys, limiter)
    finally:
        index.engine.dispose()
        close_keys(keys)


def _damage_json(damage: Damage) -> dict[str, Any]:
    return {
        "dossier_id": str(damage.dossier_id),
        "document_id": str(damage.document_id),
        "version": damage.version,
        "kind": damage.kind.value,
    }


@dataclass(slots=True)
class _State:
    """What a resumed run starts from, as saved in the data directory."""

    cursor: str | None = None
    checked: int = 0
    bytes_read: int = 0
    damaged: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> _State:
        from vault.errors import InvalidArgumentError
        from vault.scrub import ScrubCursor

        if not path.exists():
            return cls()
        try:
            saved = json.loads(path.read_text())
            state = cls(saved["cursor"], saved["checked"], saved["bytes_read"], saved["damaged"])
            if state.cursor is not None:
                ScrubCursor.parse(state.cursor)
        except (ValueError, KeyError, TypeError, InvalidArgumentError):
            raise InvalidArgumentError(
                f"{path} is not a scrub state: remove it to scrub from the start"
            ) from None
        return state

    def merged(self, progress: ScrubProgress) -> _State:
        return _State(
            str(progress.cursor) if progress.cursor is not None else self.cursor,
            self.checked + progress.checked,
            self.bytes_read + progress.bytes_read,
            self.damaged + [_damage_json(d) for d in progress.damaged],
        )

    def save(self, path: Path) -> None:
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(_fields(self)))
        temporary.replace(path)


def _fields(state: _State) -> dict[str, Any]:
    return {
        "cursor": state.cursor,
        "checked": state.checked,
        "bytes_read": state.bytes_read,
        "damaged": state.damaged,
    }


def _progress_line(state: _State) -> str:
    return (
        f"scrub: {state.checked} versions checked, {state.bytes_read / MIB:.1f} MiB read, "
        f"{len(state.damaged)} damaged, cursor {state.cursor}"
    )


def _reporter(
    base: _State, path: Path, clock: Callable[[], float]
) -> Callable[[ScrubProgress], None]:
    """Every PROGRESS_EVERY_SECONDS: a line on standard error and the state saved."""
    last = [clock()]

    def report(progress: ScrubProgress) -> None:
        if clock() - last[0] >= PROGRESS_EVERY_SECONDS:
            last[0] = clock()
            state = base.merged(progress)
            state.save(path)
            print(_progress_line(state), file=sys.stderr)

    return report


def run_scrub(scrubber: Scrubber, state_path: Path, resume: bool) -> ScrubReport:
    """Runs the scrub from the saved state (with `resume`) or the start, saving the
    state as it goes and when interrupted, removing it at the end."""
    from vault.scrub import ScrubCursor, ScrubProgress

    base = _State.load(state_path) if resume else _State()
    after = None if base.cursor is None else ScrubCursor.parse(base.cursor)
    progress = ScrubProgress(cursor=after)

    def track(current: ScrubProgress) -> None:
        nonlocal progress
        progress = current
        reporter(current)

    reporter = _reporter(base, state_path, time.monotonic)
    try:
        progress = scrubber.run(after, track)
    except BaseException:
        base.merged(progress).save(state_path)
        raise
    state = base.merged(progress)
    state_path.unlink(missing_ok=True)
    print(_progress_line(state), file=sys.stderr)
    return ScrubReport(state.checked, state.bytes_read, state.damaged)


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def limiter_for(
    args: argparse.Namespace, clock: Callable[[], float], sleep: Callable[[float], None]
) -> RateLimiter:
    """The ceilings the flags set (none by default)."""
    from vault.scrub import RateLimiter

    mib = args.max_mib_per_second
    bytes_per_second = None if mib is None else mib * MIB
    return RateLimiter(bytes_per_second, args.max_objects_per_second, clock, sleep)


def cmd_scrub(args: argparse.Namespace) -> int:
    from vault.config import Config

    config = Config.from_env()
    limiter = limiter_for(args, time.monotonic, time.sleep)
    with open_scrubber(config, limiter) as scrubber:
        report = run_scrub(scrubber, config.data_dir / STATE_FILE, args.resume)
    if args.json:
        print_json(report, compact=True)
    else:
        print(f"checked {report.checked} versions, {report.bytes_read} bytes")
        for damage in report.damaged:
            print(
                f"damaged ({damage['kind']}): dossier {damage['dossier_id']} "
                f"document {damage['document_id']} version {damage['version']}"
            )
    return EXIT_DAMAGED if report.damaged else 0


def register(commands: Any) -> None:
    """Adds `scrub` to the top-level parser's subparsers."""
    scrub = commands.add_parser(
        "scrub",
        help="read every committed blob back, verify it, report damaged documents "
        "(operators, server host)",
        epilog=epilog(
            "every blob verified",
            [(EXIT_DAMAGED, "damage found (listed in the report)"), *error_codes()],
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scrub.add_argument(
        "--resume",
        action="store_true",
        help=f"continue after the last version checked (saved in VAULT_DATA_DIR/{STATE_FILE})",
    )
    scrub.add_argument("--max-mib-per-second", type=_rate, metavar="N", help="read ceiling")
    scrub.add_argument("--max-objects-per-second", type=_rate, metavar="N", help="object ceiling")
    scrub.add_argument("--json", action="store_true", help="machine-readable report")
    scrub.set_defaults(handler=cmd_scrub)
