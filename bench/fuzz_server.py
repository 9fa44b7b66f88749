"""Fuzzing the real server: hostile calls through gRPC, and the statuses they get.

    python -m bench.fuzz_server                          # 3,000 calls on SQLite
    python -m bench.fuzz_server --calls 20000 --database-url postgresql+psycopg://...

(on PostgreSQL, in a fresh schema dropped at the end)

Each call is a method of `vault.v1.DossierVault` with a caller (the dossier's patient, a
professional, an auditor, an operator, a bad token) and either a message of the method's
request type with extreme values (integers at and past 2^31 and 2^63, timestamps at
±2^62 seconds and nanos outside 0..999,999,999, unknown enum numbers, strings with NUL,
ids of a real dossier and of none), or raw bytes that mostly do not decode. Streamed
requests (PutDocument) send a few of them. Hypothesis draws the calls (`shots`), so the
test suite uses the same harness with a few dozen examples
(tests/server/test_fuzz_server.py); this run draws many more, counts the statuses,
and checks at the end that the journal verifies and holds exactly one entry per call.

A call must never end UNKNOWN or INTERNAL (a bug, ADR 0013): the run prints the
statuses counted and exits 1 if one did, or if the journal is not as it should be.
Prints a table; `--json` for machines. Not a test: run on demand.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bench.bench_calls import postgres_schema
from vault.auth import load_or_create_dev_issuer, mint_token
from vault.client import VaultClient
from vault.composition import build_checkpointer, key_provider, open_journal
from vault.config import Config
from vault.domain.model import ActorKind, DocumentCategory, DocumentMetadata
from vault.journal.verify import verify_export
from vault.server.app import BackgroundServer
from vault.v1 import vault_pb2 as pb

SERVICE = pb.DESCRIPTOR.services_by_name["DossierVault"]
PATIENT_INS = "184127645108946"
RPPS = "10000000009"
BUGS = frozenset((grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL))
CALL_TIMEOUT = 30.0  # seconds: a call that takes longer is a hang, reported as such

# -- what a fuzzed field holds --------------------------------------------------------

_EDGES_32 = [0, 1, 2**31 - 1, 2**31, 2**32 - 1]
_EDGES_64 = [0, 1, 2**31, 2**32 - 1, 2**62, 2**63 - 1, 2**63, 2**64 - 1]
_SIGNED_64 = [0, 1, -1, 2**62, -(2**62), 2**63 - 1, -(2**63), 253_402_300_799, -62_135_596_800]
_SIGNED_32 = [0, 1, -1, 999_999_999, 1_000_000_000, 2**31 - 1, -(2**31)]


def _edges(values: list[int], low: int, high: int) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(values), st.integers(low, high))


def _integer(field: FieldDescriptor) -> st.SearchStrategy[int]:
    kind = field.type
    if field.enum_type is not None:  # mostly a known value, so the call goes further
        known = [value.number for value in field.enum_type.values]
        return st.one_of(st.sampled_from(known), _edges(_SIGNED_32, -(2**31), 2**31 - 1))
    if kind in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return _edges(_EDGES_32, 0, 2**32 - 1)
    if kind in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return _edges(_EDGES_64, 0, 2**64 - 1)
    if kind in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64):
        return _edges(_SIGNED_64, -(2**63), 2**63 - 1)
    return _edges(_SIGNED_32, -(2**31), 2**31 - 1)  # int32, sint32, enums


def _timestamps() -> st.SearchStrategy[dict[str, int]]:
    return st.fixed_dictionaries(
        {
            "seconds": _edges(_SIGNED_64, -(2**63), 2**63 - 1),
            "nanos": _edges(_SIGNED_32, -(2**31), 2**31 - 1),
        }
    )


def _strings(ids: Sequence[str]) -> st.SearchStrategy[str]:
    named = st.sampled_from(ids)  # most likely: calls that name real things go further
    odd = st.sampled_from(["\x00", "a\x00b", "é" * 300])
    return st.one_of(named, named, named, named, st.text(max_size=24), odd)


def _value(field: FieldDescriptor, ids: Sequence[str], depth: int) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_STRING:
        return _strings(ids)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.message_type is not None:
        if field.message_type.full_name == "google.protobuf.Timestamp":
            return _timestamps()
        return messages(field.message_type, ids, depth + 1)
    return _integer(field)


def messages(
    descriptor: Descriptor, ids: Sequence[str], depth: int = 0
) -> st.SearchStrategy[Message]:
    """Messages of type `descriptor`: any of their fields set, each to a value at the
    edges of its type (nested messages three levels deep at most)."""
    cls = message_factory.GetMessageClass(descriptor)
    if depth > 3:
        return st.just(cls())
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for field in descriptor.fields:
        value = _value(field, ids, depth)
        optional[field.name] = st.lists(value, max_size=3) if field.is_repeated else value
    return st.fixed_dictionaries({}, optional=optional).map(lambda fields: _build(cls, fields))


def _build(cls: Callable[[], Message], fields: dict[str, Any]) -> Message:
    message = cls()
    for name, value in fields.items():  # a oneof keeps the last member set
        field = message.DESCRIPTOR.fields_by_name[name]
        if field.is_repeated:
            target = getattr(message, name)
            for item in value:
                if isinstance(item, dict):
                    target.add(**item)
                elif isinstance(item, Message):
                    target.add().CopyFrom(item)
                else:
                    target.append(item)
        elif isinstance(value, dict):
            for key, number in value.items():
                setattr(getattr(message, name), key, number)
        elif isinstance(value, Message):
            getattr(message, name).CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


# -- the calls ------------------------------------------------------------------------


@dataclass(frozen=True)
class Shot:
    """One fuzzed call: a method, a bearer token, the serialized request(s)."""

    method: str
    token: str
    payloads: tuple[bytes, ...]


@dataclass(frozen=True)
class Outcome:
    status: grpc.StatusCode
    request_id: str | None
    details: str


def _payloads(method: MethodDescriptor, ids: Sequence[str]) -> st.SearchStrategy[list[bytes]]:
    shaped = messages(method.input_type, ids).map(lambda m: m.SerializeToString())
    raw = st.binary(max_size=64)
    one = st.one_of(shaped, shaped, shaped, raw)  # raw bytes rarely decode: a quarter
    if method.client_streaming:
        return st.lists(one, min_size=1, max_size=4)
    return one.map(lambda payload: [payload])


def shots(tokens: Sequence[str], ids: Sequence[str]) -> st.SearchStrategy[Shot]:
    """Calls to any method of the service, by any of `tokens`, naming any of `ids`."""
    by_method = [
        st.builds(
            Shot,
            method=st.just(method.name),
            token=st.sampled_from(tokens),
            payloads=_payloads(method, ids).map(tuple),
        )
        for method in SERVICE.methods
    ]
    return st.one_of(by_method)


def _request_id(metadata: Any) -> str | None:
    for key, value in metadata or ():
        if key == "x-request-id":
            return str(value)
    return None


def same(data: bytes) -> bytes:
    return data  # requests go out as they are, answers are not decoded


def fire(channel: grpc.Channel, shot: Shot) -> Outcome:
    """Sends `shot` as raw bytes and reads the answer to its end."""
    method = SERVICE.methods_by_name[shot.method]
    path = f"/{SERVICE.full_name}/{method.name}"
    metadata = (("authorization", f"Bearer {shot.token}"),)
    try:
        if method.client_streaming:
            _, call = channel.stream_unary(path, same, same).with_call(
                iter(shot.payloads), metadata=metadata, timeout=CALL_TIMEOUT
            )
        elif method.server_streaming:
            call = channel.unary_stream(path, same, same)(
                shot.payloads[0], metadata=metadata, timeout=CALL_TIMEOUT
            )
            for _ in call:
                pass
        else:
            _, call = channel.unary_unary(path, same, same).with_call(
                shot.payloads[0], metadata=metadata, timeout=CALL_TIMEOUT
            )
        return Outcome(grpc.StatusCode.OK, _request_id(call.trailing_metadata()), "")
    except grpc.RpcError as error:
        return Outcome(
            error.code(),
            _request_id(error.trailing_metadata()),
            error.details() or "",
        )


# -- a served vault and its callers ---------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A running vault, the tokens of its callers and the ids worth naming (the first
    token is the dossier's patient's, the third an auditor's; the first id is the
    dossier's, the second its document's)."""

    address: str
    config: Config
    issuer: Ed25519PrivateKey
    tokens: tuple[str, ...]
    ids: tuple[str, ...]

    @property
    def patient(self) -> str:
        return self.tokens[0]

    @property
    def auditor(self) -> str:
        return self.tokens[2]

    @property
    def dossier(self) -> str:
        return self.ids[0]

    @property
    def document(self) -> str:
        return self.ids[1]


def prepare(server: BackgroundServer) -> Target:
    """A dossier with a document on `server`, and the callers to fuzz it."""
    address, issuer = server.target, load_or_create_dev_issuer(server.config.data_dir)

    def token(kind: ActorKind, subject: str, profession: str | None = None) -> str:
        return mint_token(
            issuer, kind=kind, subject=subject, ttl_seconds=3600, profession=profession
        )

    patient = token(ActorKind.PATIENT, PATIENT_INS)
    with VaultClient(address, patient) as client:
        dossier = client.create_dossier(PATIENT_INS)
        note = DocumentMetadata("t", DocumentCategory.REPORTS, "text/plain")
        document = client.put_document(dossier.dossier_id, note, b"fuzz")
    tokens = (
        patient,
        token(ActorKind.PROFESSIONAL, RPPS, profession="10"),
        token(ActorKind.AUDITOR, "audit"),
        token(ActorKind.OPERATOR, "ops"),
        token(ActorKind.INSURER, "cnam"),
        "not-a-token",
    )
    ids = (
        str(dossier.dossier_id),
        str(document.document_id),
        str(uuid.uuid4()),
        PATIENT_INS,
        RPPS,
        "",
    )
    return Target(address, server.config, issuer, tokens, ids)


def journal_problems(target: Target, request_ids: Sequence[str]) -> list[str]:
    """What is wrong with the journal after the calls: it does not verify, or a call
    left no entry or more than one."""
    with VaultClient(target.address, target.auditor, timeout=120) as client:
        lines = list(client.export_journal())
    config = target.config
    key = build_checkpointer(config, open_journal(config), key_provider(config)).verifier_key
    problems: list[str] = []
    try:
        verify_export(lines, key)
    except Exception as error:  # any failure to verify is the finding
        problems.append(f"the journal does not verify: {error}")
    counts = Counter(
        str(record["entry"]["request_id"])
        for record in map(json.loads, lines)
        if isinstance(record, dict) and "entry" in record
    )
    problems += [f"request {r} has {counts[r]} entries" for r in request_ids if counts[r] != 1]
    return problems


def run_shots(target: Target, examples: int, *, derandomize: bool) -> list[tuple[Shot, Outcome]]:
    """`examples` calls drawn by hypothesis (the same ones each time with `derandomize`),
    sent to `target`; nothing is shrunk: every call is sent once and counted."""
    done: list[tuple[Shot, Outcome]] = []
    with grpc.insecure_channel(target.address) as channel:

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=derandomize,
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(shot=shots(target.tokens, target.ids))
        def one(shot: Shot) -> None:
            done.append((shot, fire(channel, shot)))

        one()
    return done


@contextlib.contextmanager
def _serving(database_url: str | None, data_dir: Path) -> Iterator[BackgroundServer]:
    """A vault on SQLite in `data_dir`, or on a fresh schema of `database_url` (dropped
    after), with a local blob directory."""
    with contextlib.ExitStack() as stack:
        if database_url is None:
            url = f"sqlite:///{data_dir / 'index.sqlite3'}"
        else:
            url = stack.enter_context(postgres_schema(database_url))
        config = Config(listen="127.0.0.1:0", data_dir=data_dir / "data", database_url=url)
        server = BackgroundServer(config).start()
        stack.callback(server.stop)
        yield server


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        with _serving(args.database_url, Path(tmp)) as server:
            target = prepare(server)
            done = run_shots(target, args.calls, derandomize=False)
            problems = journal_problems(target, [o.request_id for _, o in done if o.request_id])
        seconds = time.monotonic() - started
    statuses = Counter(outcome.status.name for _, outcome in done)
    by_method = Counter(
        f"{shot.method} {outcome.status.name}" for shot, outcome in done if outcome.status in BUGS
    )
    problems += [f"{count} calls {what}" for what, count in sorted(by_method.items())]
    report = {"calls": len(done), "seconds": round(seconds, 1), "statuses": dict(statuses)}
    report["problems"] = problems
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{len(done)} calls in {seconds:.1f} s\n\n| status | calls |\n|---|---:|")
        for name, count in statuses.most_common():
            print(f"| {name} | {count} |")
        print("\n".join(["", *problems]) if problems else "\nno UNKNOWN, no INTERNAL, journal ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
