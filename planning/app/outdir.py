"""The output folder of a run: checked before any computing, locked, filled aside and moved in whole.

A run never writes into its output folder (``--out``) directly. A :class:`RunFolder`

1. **checks** the folder before any computing: it exists or can be created, it is a folder (not a
   file, nor under one) and writable; and no file the run will write is an input of the run
   (``communities --groups D/groups.csv --out D``) or a file of the user's;
2. **locks** it: a lock file beside it (``.<name>.schoolplan-lock``) keeps a second run out, with a
   message naming the process that holds it. The lock is an ``flock`` on that file, which the
   kernel releases when its process dies, so a lock left by a killed run is told from a live one
   and taken over, with a note (the pid in the file names the run; its unfinished files go too);
3. **stages** every file in a temporary folder beside it, on the same filesystem
   (``.<name>.schoolplan-XXXXXXXX.tmp``; inside the folder when it is a mount point or its parent
   is not writable);
4. **commits** at the end: moves the run's files in (``manifest.json`` last), removes the files of
   the previous run that this run did not write, then the temporary folder and the lock.

A run that fails or is interrupted before the commit (an exception, Ctrl-C) removes the temporary
folder and the lock, and the output folder is as it was. (A ``strict`` stage that cannot make a
plan is a result, not a failure: the finished stages and the explanation are committed.)

**Whose files.** A file in the output folder is the tool's when the folder's ``manifest.json``
lists it (under ``outputs`` or ``kept``) with its current checksum: exactly as a run wrote it. A run
may overwrite such a file. Every other file is the user's and is never overwritten or removed: a run
that would write one stops before computing (exit 2), and so does a run that would write over one
of its own inputs. Of the previous run's ``outputs``, those this run does not write again are
removed, so a rerun with fewer stages leaves no stale stage folders; but an input of this run is
kept, and so is a file changed since (the user's now, with a warning). ``kept`` lists the tool's
files that stay without being outputs of the run: the demo's generated ``inputs/``, which the
planner edits and reruns, and files of an earlier run that this run read. They are carried from
manifest to manifest while unchanged, so a later run (the demo again) may still overwrite them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import tempfile
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from geo.errors import InputError, Problem
from planning.app.writer import MANIFEST, sha256_file, write_files

#: Name of the lock file (``.<out name>.`` before it when it sits beside the folder).
LOCK_NAME = "schoolplan-lock"
#: Start of the temporary folder's name (``.<out name>.`` before it when it sits beside the folder).
STAGING_TAG = "schoolplan-"
#: What a Ctrl-C that came while the outputs were being moved in says: they were moved in, whole.
WRITTEN_BEFORE_INTERRUPT = "the run had finished: its outputs were written"

#: The run folders of this process that are open (locked, not committed or discarded), for
#: :func:`abort_open`: the command line's interrupt guard removes their temporary files when a
#: Ctrl-C cannot reach the main thread (a solver busy in C code).
_OPEN: set[RunFolder] = set()

__all__ = ["RunFolder", "abort_open"]


def _kind(path: Path) -> str | None:
    """``"dir"``, ``"file"`` (anything else that exists) or ``None`` when nothing is there."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return "dir" if stat.S_ISDIR(st.st_mode) else "file"


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK | os.X_OK)


def _within(root: Path, path: Path) -> bool:
    return path == root or root in path.parents


def _location_problems(out: Path, where: str) -> list[Problem]:
    """What keeps ``out`` from being the output folder: a file, under a file, not writable."""
    kind = _kind(out)
    if kind == "file":
        return [Problem(where, "is a file, not a folder: give a folder (it is created if missing)")]
    if kind == "dir":
        return [] if _writable(out) else [Problem(where, "is not writable (permission denied)")]
    base = out.parent
    while _kind(base) is None:
        base = base.parent
    if _kind(base) == "file":
        return [Problem(where, f"cannot be created: {base} is a file, not a folder")]
    if not _writable(base):
        return [Problem(where, f"cannot be created: {base} is not writable (permission denied)")]
    return []


def _make_dirs(path: Path) -> list[Path]:
    """Create ``path`` and its missing parents; the folders created, outermost first."""
    missing = [p for p in (path, *path.parents) if _kind(p) is None]
    for p in reversed(missing):
        p.mkdir(exist_ok=True)
    return missing[::-1]


def _safe_rel(rel: str) -> bool:
    """A manifest entry that names a file inside the folder (no absolute path, no ``..``)."""
    p = PurePosixPath(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and "\\" not in rel


def _previous_run(out: Path) -> tuple[dict[str, str], dict[str, str]] | None:
    """The files the folder's manifest says runs wrote: ``(outputs, kept)``, relative path → checksum.

    ``({}, {})`` when there is no ``manifest.json``; ``None`` when there is one that is not a
    schoolplan manifest (then it is a file of the user's).
    """
    path = out / MANIFEST
    if _kind(path) is None:
        return {}, {}
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not (isinstance(data, dict) and "schoolplan" in data and isinstance(data.get("outputs"), dict)):
        return None

    def entries(key: str) -> dict[str, str]:
        found = data.get(key)
        found = found if isinstance(found, dict) else {}
        return {rel: sha for rel, sha in found.items() if isinstance(rel, str) and isinstance(sha, str) and _safe_rel(rel)}

    return entries("outputs"), entries("kept")


@contextmanager
def _sigint_deferred(note: str = "") -> Iterator[None]:
    """Hold a Ctrl-C back until the block is done (then raise it), so no file is left half moved.

    Only the main thread receives signals; elsewhere the block runs as it is.
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous is None:
        yield
        return
    caught: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught and previous is signal.default_int_handler:
        raise KeyboardInterrupt(note)
    if caught and callable(previous):
        previous(signal.SIGINT, None)


# --------------------------------------------------------------------------- the lock


def _lock_info(fd: int) -> dict[str, Any]:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _holder(info: Mapping[str, Any]) -> str:
    """``process 123, started 2026-09-01T08:00:00+00:00`` (and the host when it is another one)."""
    host = info.get("host")
    where = f" on {host}" if host and host != socket.gethostname() else ""
    return f"process {info.get('pid', '?')}{where}, started {info.get('started', '?')}"


def _acquire_lock(path: Path, where: str) -> tuple[int, dict[str, Any]]:
    """Lock ``path``: ``(fd, content of a lock its dead holder left or {})``.

    Raises
    ------
    InputError
        Another live run holds it.
    """
    import fcntl  # noqa: PLC0415 - POSIX file locks

    for _ in range(5):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info = _lock_info(fd)
            os.close(fd)
            msg = (
                f"another schoolplan run ({_holder(info)}) is writing to this folder: "
                "wait for it to finish, or choose another --out"
            )
            raise InputError([Problem(where, msg)]) from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:  # else the run that held it removed it as we opened it: lock the new one
            return fd, _lock_info(fd)
        os.close(fd)
    raise InputError([Problem(where, f"cannot lock the folder: {path} keeps changing")])


def _record_lock(fd: int, staging: Path) -> None:
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "staging": staging.name,
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
    os.fsync(fd)


# --------------------------------------------------------------------------- the folder


class RunFolder:
    """The output folder of one run: checked, locked and staged on :meth:`open`, moved in on :meth:`commit`.

    Use it as a context manager: leaving the block without :meth:`commit` (an error, Ctrl-C)
    discards the temporary folder and the lock, and the output folder is as it was.

    Parameters
    ----------
    out_dir
        The output folder (created at the commit if missing).
    planned
        Files (relative to ``out_dir``) the run may write, checked before any computing; the files
        actually written are checked again at the commit.
    inputs
        The run's input files: none may be one of its outputs.

    Example
    -------
    >>> with RunFolder("out/plan", planned=["zones/feeder.csv"]) as folder:   # doctest: +SKIP
    ...     folder.write({"zones/feeder.csv": frame})
    ...     folder.commit()
    """

    def __init__(self, out_dir: str | Path, *, planned: Iterable[str] = (), inputs: Iterable[Path] = ()) -> None:
        self.out_dir = Path(out_dir)
        self._where = f"output folder {out_dir}"
        self._path = Path(os.path.realpath(out_dir))
        self._planned = sorted(set(planned))
        self._inputs = {Path(os.path.realpath(p)) for p in inputs}
        self._state = "new"  # new → open → committed | discarded
        self._fs = threading.Lock()  # held while files are written, moved or removed
        self._written: list[Path] = []
        self._created: list[Path] = []
        self._previous: dict[str, str] = {}  # outputs of the previous run, relative path → checksum
        self._kept: dict[str, str] = {}  # files the previous manifest kept
        self._manifest_ours = True  # whether manifest.json, if there, is a schoolplan manifest
        self._keep: set[Path] = set()  # files written that stay without being outputs (the demo's inputs)
        self._owned: dict[str, bool] = {}
        self._lock_fd: int | None = None
        self._staging = self._lock_path = self._path

    # ---------------------------------------------------------------- opening

    def __enter__(self) -> RunFolder:
        try:
            self.open()
        except BaseException:
            self.discard()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._state != "committed":
            self.discard()

    def open(self) -> None:
        """Check the folder and the planned files, lock it and make the temporary folder.

        Raises
        ------
        InputError
            The folder is a file, under a file or not writable; another run holds its lock; a
            planned file is an input of the run or a file of the user's (every such file listed).
        """
        with _sigint_deferred():
            try:
                problems = _location_problems(self._path, self._where)
                if problems:
                    raise InputError(problems)
                work, tag = self._layout()
                self._state = "open"
                self._created = _make_dirs(work)
                self._lock_path = work / f".{tag}{LOCK_NAME}"
                self._lock_fd, stale = _acquire_lock(self._lock_path, self._where)
                self._staging = Path(tempfile.mkdtemp(prefix=f".{tag}{STAGING_TAG}", suffix=".tmp", dir=work))
            except OSError as err:
                raise InputError([Problem(self._where, f"cannot write there: {err.strerror or err}")]) from err
            os.chmod(self._staging, 0o777 & ~_umask())  # mkdtemp makes 0700; it may become the folder
            _record_lock(self._lock_fd, self._staging)
            _OPEN.add(self)
            self._take_over(stale, work)
            previous = _previous_run(self._path)
            self._previous, self._kept = previous or ({}, {})
            self._manifest_ours = previous is not None
            problems = self._name_problems(self._planned)
            if problems:
                raise InputError(problems)

    def _layout(self) -> tuple[Path, str]:
        """Where the lock and the temporary folder go, and the tag before their names.

        Beside the folder (same filesystem, and the folder need not exist); inside it when it is a
        mount point or its parent is not writable.
        """
        out = self._path
        if _kind(out) == "dir" and (
            out.parent == out or not _writable(out.parent) or os.stat(out.parent).st_dev != os.stat(out).st_dev
        ):
            return out, ""
        return out.parent, f"{out.name}."

    def _take_over(self, stale: Mapping[str, Any], work: Path) -> None:
        """A lock left by a run that died: remove its unfinished files, say so."""
        if not stale:
            return
        name = str(stale.get("staging", ""))
        old = work / name
        if name.startswith(".") and STAGING_TAG in name and old != self._staging and _kind(old) == "dir":
            shutil.rmtree(old, ignore_errors=True)
        msg = (
            f"{self._where}: an earlier run ({_holder(stale)}) stopped before it finished; "
            "its lock is taken over and its unfinished files removed"
        )
        warnings.warn(msg, stacklevel=4)

    # ---------------------------------------------------------------- whose files

    def _is_input(self, path: Path) -> bool:
        return Path(os.path.realpath(path)) in self._inputs

    def _is_ours(self, rel: str) -> bool:
        """Whether ``rel`` is a file a run wrote, unchanged since (its checksum is the manifest's)."""
        if rel not in self._owned:
            path = self._path / rel
            sha = self._previous.get(rel, self._kept.get(rel))
            self._owned[rel] = sha is not None and not path.is_symlink() and _kind(path) == "file" and sha256_file(path) == sha
        return self._owned[rel]

    def _name_problems(self, rels: Iterable[str]) -> list[Problem]:
        """Each file the run would write that it must not: a folder, a link out, an input, a user's file."""
        problems: dict[str, str] = {}
        for rel in rels:
            target = self._path / rel
            shown = str(self.out_dir / rel)
            blocker = next((p for p in reversed(target.parents) if _within(self._path, p) and _kind(p) == "file"), None)
            if blocker is not None:
                problems[str(self.out_dir / blocker.relative_to(self._path))] = (
                    f"is a file where the run writes a folder ({rel}): move or rename it, or choose another --out"
                )
            elif not _within(self._path, Path(os.path.realpath(target))):
                problems[shown] = "leads out of the output folder (a link): the run would write elsewhere"
            elif _kind(target) == "dir":
                problems[shown] = "is a folder where the run writes a file: move or rename it, or choose another --out"
            elif _kind(target) is None:
                continue
            elif self._is_input(target):
                problems[shown] = (
                    "is an input of this run, and the run writes an output of the same name there: "
                    "copy the input elsewhere and name that copy, or choose another --out"
                )
            elif not (self._is_ours(rel) or (rel == MANIFEST and self._manifest_ours)):
                problems[shown] = (
                    "would be overwritten by an output of the same name, and no earlier run wrote it as it is now "
                    "(manifest.json does not list it with this content): move or rename it, or choose another --out"
                )
        return [Problem(where, msg) for where, msg in sorted(problems.items())]

    # ---------------------------------------------------------------- writing

    @property
    def staging(self) -> Path:
        """The temporary folder the run writes into (moved into the output folder by :meth:`commit`)."""
        return self._staging

    @property
    def written(self) -> list[Path]:
        """The files written so far, in the temporary folder, sorted."""
        return sorted(self._written)

    @property
    def outputs(self) -> list[Path]:
        """The files written so far that are the run's outputs (not :meth:`kept` ones), sorted."""
        return sorted(set(self._written) - self._keep)

    def write(self, files: Mapping[str, Any], *, keep: bool = False) -> list[Path]:
        """Write payloads (relative path → payload, format by suffix) into the temporary folder.

        ``keep`` marks files that stay when later runs do not write them (the demo's inputs): the
        manifest lists them under ``kept``, not ``outputs``.
        """
        with self._fs:
            if self._state != "open":
                msg = f"{self._where}: not open for writing ({self._state})"
                raise RuntimeError(msg)
            written = write_files(self._staging, files)
        self._written = sorted(set(self._written) | set(written))
        if keep:
            self._keep.update(written)
        return written

    def relocate(self, obj: Any) -> Any:
        """``obj`` with every path (string) under the temporary folder pointed at its place in the output folder."""
        old, new = str(self._staging), str(self._path)
        if isinstance(obj, str):
            return new + obj[len(old) :] if obj == old or obj.startswith(old + os.sep) else obj
        if isinstance(obj, Path):
            return Path(self.relocate(str(obj)))
        if isinstance(obj, Mapping):
            return {k: self.relocate(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.relocate(v) for v in obj]
        return obj

    def _rels(self) -> list[str]:
        return [p.relative_to(self._staging).as_posix() for p in self.written]

    def kept(self) -> dict[str, str]:
        """The manifest's ``kept``: relative path → checksum of the tool's files that stay without being outputs.

        The files written with ``keep``, and the previous manifest's ``kept`` files and its outputs
        this run reads, unchanged and not written again.
        """
        rels = set(self._rels())
        carried = {
            rel: sha
            for rel, sha in {**self._kept, **self._previous}.items()
            if rel not in rels and self._is_ours(rel) and (rel in self._kept or self._is_input(self._path / rel))
        }
        mine = {p.relative_to(self._staging).as_posix(): sha256_file(p) for p in self._keep}
        return dict(sorted({**carried, **mine}.items()))

    # ---------------------------------------------------------------- commit and discard

    def commit(self) -> list[Path]:
        """Move the written files into the output folder (``manifest.json`` last) and remove the previous run's others.

        Returns
        -------
        list[pathlib.Path]
            The files in the output folder, sorted.

        Raises
        ------
        InputError
            A file written that the folder holds as the user's (a renderer's file, named only when it
            rendered); nothing is moved.
        """
        rels = self._rels()
        problems = self._name_problems(rels)
        if problems:
            raise InputError(problems)
        stale = [rel for rel in sorted(self._previous) if rel not in set(rels)]
        changed = [
            rel for rel in stale
            if _kind(self._path / rel) == "file" and not self._is_ours(rel) and not self._is_input(self._path / rel)
        ]
        remove = [rel for rel in stale if self._is_ours(rel) and not self._is_input(self._path / rel)]
        with self._fs, _sigint_deferred(WRITTEN_BEFORE_INTERRUPT):
            self._move_in(rels, remove)
            self._state = "committed"
            self._close()
        if changed:
            msg = (
                f"{self._where}: kept {len(changed)} file(s) of the previous run that were changed since it wrote them "
                f"and that this run does not write: {', '.join(changed[:5])}{' …' if len(changed) > 5 else ''}"
            )
            warnings.warn(msg, stacklevel=2)
        return [self.out_dir / rel for rel in rels]

    def _move_in(self, rels: list[str], remove: list[str]) -> None:
        if _kind(self._path) is None and self._staging.parent != self._path:
            with suppress(OSError):  # the folder did not exist: the temporary folder becomes it, in one step
                os.rename(self._staging, self._path)
                return
        for rel in sorted(rels, key=lambda r: r == MANIFEST):  # the manifest last
            dst = self._path / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._staging / rel, dst)
        for rel in remove:
            path = self._path / rel
            path.unlink(missing_ok=True)
            for parent in path.parents:
                if parent == self._path or not _within(self._path, parent):
                    break
                with suppress(OSError):  # not empty: a file of the user's or this run's is in it
                    parent.rmdir()

    def discard(self) -> None:
        """Remove the temporary folder, the lock and the folders made for them; the output folder is untouched."""
        with self._fs, _sigint_deferred():
            self._discard_files()

    def _discard_files(self) -> None:
        if self._state not in ("open", "new"):
            return
        self._state = "discarded"
        self._close()
        for p in reversed(self._created):
            with suppress(OSError):
                p.rmdir()

    def _close(self) -> None:
        """Remove the temporary folder (what is left of it) and the lock."""
        _OPEN.discard(self)
        if self._staging != self._path:
            shutil.rmtree(self._staging, ignore_errors=True)
        if self._lock_fd is not None:
            with suppress(OSError):
                os.unlink(self._lock_path)
            os.close(self._lock_fd)
            self._lock_fd = None


def abort_open() -> None:
    """Discard every open run folder of this process, keeping each one closed for good.

    For the command line's interrupt guard, just before it ends the process from another thread
    (the main thread being busy in a solver): each folder's file lock is taken and never given
    back, so the main thread writes nothing more.
    """
    for folder in list(_OPEN):
        folder._fs.acquire()
        folder._discard_files()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
