"""Where an Optuna study lives, and the credentials of a database that holds one.

A study is a SQLite file, a journal file (``journal:PATH`` or a path ending in ``.log`` or
``.journal``) or any database URL SQLAlchemy takes (``postgresql+psycopg://USER@HOST/DB``).
A database password is given the database's own way, never in the URL: for PostgreSQL,
``PGPASSWORD``, ``~/.pgpass`` or a service file (``PGSERVICE``), which libpq reads and
psycopg honours. A URL that carries a password still works, with a warning: eamp renders
it with the password masked in every message and file, and hands it to the processes it
starts in their environment (``PGPASSWORD``), never in a job file.
"""

from __future__ import annotations

import os
import warnings

import optuna

__all__ = ["GRACE_PERIOD", "HEARTBEAT_INTERVAL", "JOURNAL_GRACE", "StoragePasswordWarning",
           "is_journal", "make_storage", "shown", "storage_url", "without_password"]

HEARTBEAT_INTERVAL = 5
# seconds of silence after which a database trial counts as dead (env override for tests)
GRACE_PERIOD = int(os.environ.get("EAMP_TUNE_GRACE_PERIOD", "20"))
# seconds after which a journal file's lock is taken to be a dead writer's
JOURNAL_GRACE = 5


class StoragePasswordWarning(UserWarning):
    """A storage URL that carries a password (shell history and process listings show it)."""


def storage_url(storage: str | None, folder: os.PathLike) -> str:
    """``storage``, or a SQLite file ``study.db`` in ``folder``."""
    return storage or f"sqlite:///{os.path.abspath(os.path.join(folder, 'study.db'))}"


def is_journal(url: str) -> bool:
    return url.startswith("journal:") or url.endswith((".log", ".journal"))


def _parsed(url: str):  # noqa: ANN202 (sqlalchemy's URL)
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if is_journal(url):
        return None
    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        return None


def shown(url: str) -> str:
    """``url`` as it may be shown or written: its password masked (SQLAlchemy's
    ``render_as_string(hide_password=True)``)."""
    parsed = _parsed(url)
    if parsed is None or parsed.password is None:
        return url
    return parsed.render_as_string(hide_password=True)


def without_password(url: str) -> tuple[str, str | None]:
    """``url`` without its password, and the password (``None`` if it has none)."""
    parsed = _parsed(url)
    if parsed is None or parsed.password is None:
        return url, None
    from sqlalchemy.engine import URL

    # URL.set(password=None) keeps the password (None means "unchanged"): built anew
    bare = URL.create(parsed.drivername, username=parsed.username, host=parsed.host,
                      port=parsed.port, database=parsed.database, query=parsed.query)
    return bare.render_as_string(hide_password=False), str(parsed.password)


def hand_over_password(url: str) -> str:
    """The URL processes started by this command get: ``url`` itself, or for a PostgreSQL
    URL that carries a password, the URL without it, the password going to them in
    ``PGPASSWORD`` (libpq's own variable). Says once that the URL carries a password, and
    where it belongs instead; a URL of another database with a password is refused (it
    would be written into the job files)."""
    bare, password = without_password(url)
    if password is None:
        return url
    warnings.warn(StoragePasswordWarning(
        f"storage: {shown(url)} carries a password, which the shell history and every "
        "process listing show; give it in PGPASSWORD, ~/.pgpass or a service file "
        "(PGSERVICE) and leave it out of the URL"), stacklevel=2)
    if not _parsed(url).get_backend_name().startswith("postgresql"):
        raise ValueError(f"storage: {shown(url)} carries a password that its workers could "
                         "only get in their job files; give it the database's own way "
                         "(an option file or environment variable) and leave it out of "
                         "the URL")
    os.environ["PGPASSWORD"] = password
    return bare


def make_storage(url: str) -> optuna.storages.BaseStorage:
    """A storage for ``url``: a journal file, or a database with a heartbeat. A URL that
    cannot be opened is a ``ValueError`` naming it, its password masked."""
    try:
        return _make_storage(url)
    except Exception as error:  # SQLAlchemy, drivers and the file system raise many kinds
        text = str(error).splitlines()[0] if str(error) else ""
        password = without_password(url)[1]
        if password:
            text = text.replace(password, "***")
        raise ValueError(f"storage: cannot open {shown(url)!r} ({type(error).__name__}: "
                         f"{text})") from None


def _make_storage(url: str) -> optuna.storages.BaseStorage:
    if is_journal(url):
        path = url.removeprefix("journal:")
        # a writer holds the file's lock for one append: a lock older than a few seconds
        # belongs to a killed worker (Optuna's default waits 30 s before breaking it)
        lock = optuna.storages.journal.JournalFileSymlinkLock(path, grace_period=JOURNAL_GRACE)
        backend = optuna.storages.journal.JournalFileBackend(path, lock_obj=lock)
        return optuna.storages.JournalStorage(backend)
    with warnings.catch_warnings():
        # the heartbeat is what fails a killed worker's trial; Optuna calls it experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url, heartbeat_interval=HEARTBEAT_INTERVAL, grace_period=GRACE_PERIOD,
            engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite")
            else None,
        )
