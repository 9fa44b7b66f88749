"""bench.cpu_shares files py-spy's samples as its docstring says (synthetic stacks)."""

from __future__ import annotations

from bench import cpu_shares as c

LOOP = "BaseEventLoop.run_forever (asyncio/base_events.py:607)"
POOL = (
    "Thread._bootstrap (threading.py:1002);Thread.run (threading.py:982);"
    "_worker (concurrent/futures/thread.py:83);_WorkItem.run (concurrent/futures/thread.py:58)"
)
RAW = f"""\
thread (1): MainThread;{LOOP};EpollSelector.select (selectors.py:468) 50
thread (2): vault_0;{POOL};Documents.open (vault/service/documents.py:10);TokenVerifier.verify (vault/auth.py:1);decode (jwt/api_jwt.py:3);Ed25519PublicKey.verify (cryptography/hazmat/x.py:1) 7
thread (3): vault_1;{POOL};SqlDossiers.dossier (vault/index/sql/dossiers.py:5);Connection._execute_context (sqlalchemy/engine/base.py:1868);DefaultDialect.do_execute (sqlalchemy/engine/default.py:1192) 5
thread (4): journal-commit;Thread.run (threading.py:982);GroupCommitJournal._commit_loop (vault/journal/group.py:70);SqlJournal.append_many (vault/journal/sql.py:140);canonical_bytes (vault/journal/chain.py:125) 3
thread (4): journal-commit;Thread.run (threading.py:982);GroupCommitJournal._commit_loop (vault/journal/group.py:70);Connection.execute (sqlalchemy/engine/base.py:1400);SQLCompiler.process (sqlalchemy/sql/compiler.py:900) 2
thread (5): Thread-1 (_poll_wrapper);Thread._bootstrap (threading.py:1002);Thread.run (threading.py:982) 4
thread (1): MainThread;{LOOP};_chain_future.<locals>._call_set_state (asyncio/futures.py:403) 1
thread (6): vault_2;{POOL};Upload.write (vault/service/uploads.py:424);AESGCM.encrypt (vault/crypto/objectformat/encrypt.py:9) 2
thread (1): MainThread;{LOOP};some_helper (json/encoder.py:1) 1
"""  # noqa: E501


def test_samples_are_filed_by_the_documented_rules() -> None:
    shares = c.parse_collapsed(RAW.splitlines())
    assert shares.waiting == 50  # the event loop in epoll: woken, not on a CPU
    assert shares.samples == 25
    assert shares.exclusive == {
        c.TOKEN: 7,  # owner: the Ed25519 check under jwt is the token's, not crypto
        c.DRIVER: 5,
        c.JOURNAL_ENCODING: 3,
        c.JOURNAL_COMMIT: 2,  # owner: the journal's SQL is its commit
        c.GRPC_ASYNCIO: 4 + 1,  # the poller thread; the loop in stdlib it called
        c.HANDOFF: 1,
        c.CRYPTO: 2,
    }
    assert shares.inclusive[c.SQL_COMPILE] == 2
    assert shares.inclusive[c.CRYPTO] == 7 + 2
    assert shares.inclusive[c.JOURNAL] == 5
    assert shares.threads == {
        "vault_N": 14,
        "journal-commit": 5,
        "Thread-N (_poll_wrapper)": 4,
        "MainThread": 2,
    }


def test_each_thread_shares_out_the_cpu_it_used() -> None:
    shares = c.parse_collapsed(RAW.splitlines())
    seconds, unsampled = shares.weighted({1: 0.5, 4: 1.0, 3: 0.2, 99: 0.3})
    assert seconds[c.JOURNAL_ENCODING] == 1.0 * 3 / 5
    assert seconds[c.JOURNAL_COMMIT] == 1.0 * 2 / 5
    assert seconds[c.GRPC_ASYNCIO] == 0.5 / 2  # the loop's two samples on a CPU
    assert seconds[c.DRIVER] == 0.2
    assert seconds.get(c.TOKEN, 0.0) == 0.0  # no CPU measured for its thread
    assert unsampled == 0.3  # a thread with no Python frames


def test_a_frame_is_split_into_function_and_path() -> None:
    frame = c.Frame.parse("Connection._execute_context (sqlalchemy/engine/base.py:1868)")
    assert frame == c.Frame("_execute_context", "/sqlalchemy/engine/base.py")
    assert c.Frame.parse("<module> (/srv/app/vault/cli.py:3)").path == "/srv/app/vault/cli.py"


def test_the_s3_store_package_is_filed_with_its_client() -> None:
    raw = (
        f"thread (7): vault_3;{POOL};S3Writer.write (vault/blobstore/s3/writer.py:120);"
        "S3Writer._upload_part (vault/blobstore/s3/writer.py:200) 3\n"
    )
    assert c.parse_collapsed(raw.splitlines()).exclusive == {c.BOTO: 3}
