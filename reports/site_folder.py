"""The ``--out`` folder: what may be built there, the ``.<out>.building-<pid>-*`` folder a build
works in, the manifest of the files a build wrote, and the swap that puts a finished site in
place, keeping every file no build wrote.

Light on purpose (no pandas): the command line checks ``--out`` with it before loading anything.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from sweepsight.adapters.errors import SweepError

SITE_MARKER = ".sweepsight-site"
MANIFEST = ".sweepsight-manifest.json"  # the files the build wrote (relative POSIX paths)
LOCK = ".sweepsight-building.lock"  # held (flock) by the build that owns a .<out>.building-* folder
STALE_YOUNG = 60  # seconds: a building folder of a live process (or none named) younger than this is kept
STALE_UNLOCKED = 24 * 3600  # a building folder whose lock cannot be asked, older than this, is stale
_RANDOM = 8  # characters mkdtemp adds
_PID = re.compile(r"\.building-(\d+)-")


def building_prefix(out: Path, pid: int | None = None) -> str:
    """``.<out>.building-<pid>-``: the name of the build's folder before mkdtemp's 8 characters;
    the pid tells a later build whether the owner is still alive."""
    return f".{out.name}.building-{os.getpid() if pid is None else pid}-"


def _name_max(folder: Path) -> int:
    """The longest file name (bytes) the file system holding ``folder`` (or its nearest existing
    ancestor) takes; 255 where it cannot be asked."""
    for parent in (folder, *folder.parents):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            return os.pathconf(parent, "PC_NAME_MAX")  # fails for a path that does not exist
    return 255


def check_out(out: Path, *, inputs: Iterable[tuple[str, Path]] = ()) -> None:
    """Refuse, in one line and before anything loads, an ``--out`` that the build cannot use:
    a file, a folder holding no sweepsight site, a name too long for the build's folder next to
    it, or a folder that holds an input (``inputs``: ``(option, path)`` pairs)."""
    try:
        _check_out(out, inputs)
    except OSError as exc:  # a path the system refuses (a parent's name too long, a loop)
        raise SweepError(f"--out {str(out)[:80]}: {exc.strerror or exc}; pass a folder you can "
                         "write to.") from None


def _check_out(out: Path, inputs: Iterable[tuple[str, Path]]) -> None:
    limit = _name_max(out.parent)
    longest = len(os.fsencode(building_prefix(out, pid=4194304))) + _RANDOM
    if longest > limit:
        room = limit - (longest - len(os.fsencode(out.name)))
        raise SweepError(
            f"--out {out.name[:40]}…: the folder name is {len(os.fsencode(out.name))} bytes long and "
            f"the build works next to it in .<name>.building-<pid>-<8 characters>, which must fit "
            f"the file system's {limit}-byte limit; pass a name of at most {max(room, 1)} bytes.")
    if out.exists() and not out.is_dir():
        raise SweepError(f"--out {out} is a file; pass a folder for the site.")
    for option, path in inputs:
        with contextlib.suppress(OSError, ValueError):
            if path.resolve().is_relative_to(out):
                raise SweepError(
                    f"--out {out} holds the {option} {path}; the build replaces what an earlier "
                    f"build wrote there, so pass an --out folder that does not hold the input "
                    "(or move the input out of it).")
    if out.is_dir() and any(out.iterdir()) and not (out / SITE_MARKER).exists():
        raise SweepError(
            f"--out {out} is a folder that does not hold a sweepsight site; the build would put "
            "a site among your files, so pass a new or empty folder (or an earlier site).")


def flock(fh, *, blocking: bool) -> bool | None:
    """Lock ``fh`` (a file object or descriptor) exclusively: True when locked, False when
    another process holds it (non-blocking), None where files cannot be locked (Windows)."""
    try:
        import fcntl
    except ImportError:
        return None
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def building_folder(out: Path):
    """A new ``.<out>.building-<pid>-*`` folder next to ``out`` and the open, locked file that
    marks it as in use; a folder or place we cannot write is the user's error, in one line."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=building_prefix(out)))
    except OSError as exc:
        raise SweepError(f"--out {out}: cannot create the site there ({exc.strerror or exc}); "
                         "pass a folder you can write to.") from None
    lock = open(tmp / LOCK, "w")
    flock(lock, blocking=True)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; a site is meant to be read
    return tmp, lock


def _owner_gone(folder: Path) -> bool:
    """Whether the process named in the folder's name (``.building-<pid>-``) has ended."""
    found = _PID.search(folder.name)
    if found is None:
        return False
    try:
        os.kill(int(found.group(1)), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, OSError):
        return False  # alive (another user's) or not a pid we can ask
    return False


def clean_stale(out: Path) -> list[Path]:
    """Remove ``.<out>.building-*`` folders left by builds that were killed (SIGKILL, power loss).

    A running build holds the lock on its folder's lock file; the lock dies with its process.
    A folder whose owner (the pid in its name) has ended is stale at once, unless its lock is
    held; any other folder whose lock we can take is stale once older than a minute (it may be
    a build just starting). Returns the folders removed.
    """
    removed = []
    for folder in out.parent.glob(f".{out.name}.building-*"):
        lock_path = folder / LOCK
        try:
            gone = _owner_gone(folder)
            if not gone and time.time() - folder.stat().st_mtime < STALE_YOUNG:
                continue  # may be a build that is just starting (folder made, lock not yet taken)
            locked = None
            if lock_path.exists():
                with open(lock_path, "a") as fh:
                    locked = flock(fh, blocking=False)
                if locked is False:
                    continue  # another build is working there
            if not gone and locked is None and time.time() - folder.stat().st_mtime < STALE_UNLOCKED:
                continue  # no lock to ask: just created, being swapped into place, or Windows
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _entries(root: Path) -> Iterator[str]:
    """Every file and symlink under ``root`` (relative POSIX paths); symlinked folders are not
    followed."""
    stack = [root]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                else:
                    yield Path(entry.path).relative_to(root).as_posix()


def write_manifest(site: Path) -> set[str]:
    """Write :data:`MANIFEST`: every file now in ``site`` (what this build wrote)."""
    written = sorted(set(_entries(site)) - {MANIFEST, LOCK})
    (site / MANIFEST).write_text(json.dumps(written, indent=0) + "\n", encoding="utf-8")
    return set(written)


def _manifest(site: Path) -> set[str] | None:
    """The files an earlier build wrote into ``site``, or None when it has no readable manifest."""
    try:
        listed = json.loads((site / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {p for p in listed if isinstance(p, str)} if isinstance(listed, list) else None


@contextlib.contextmanager
def _swap_lock(out: Path) -> Iterator[None]:
    """Builds into one ``--out`` swap one at a time (a lock on the folder that holds it)."""
    try:
        fd = os.open(out.parent, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        flock(fd, blocking=True)
        yield
    finally:
        os.close(fd)  # releases the lock


def swap(tmp: Path, out: Path, log: Callable[[str], None] = lambda line: None) -> list[str]:
    """Put the finished site ``tmp`` in place of ``out`` with renames (restoring ``out`` if that
    fails), then move back every file of the old ``out`` that no build wrote (not in its
    manifest, and not one this build wrote itself). Returns those files."""
    with _swap_lock(out):
        if not out.exists():
            os.replace(tmp, out)
            return []
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
        os.replace(out, old / "site")
        try:
            os.replace(tmp, out)
        except OSError:
            os.replace(old / "site", out)
            shutil.rmtree(old, ignore_errors=True)
            raise
        # listed once the old site is out of the way: a file added a moment ago is kept too
        skip = (_manifest(old / "site") or set()) | (_manifest(out) or set()) | {MANIFEST}
        try:
            keep = sorted(p for p in _entries(old / "site") if p not in skip)
        except OSError as exc:  # a folder we cannot list: nothing of it is deleted
            log(f"[   0.00 s] the previous site could not be read through ({exc.strerror or exc}); "
                f"it is kept in {old / 'site'}")
            return []
        left = []
        for rel in keep:
            try:
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(old / "site" / rel, out / rel)
            except OSError:
                left.append(rel)
        if left:  # never deleted: said, and left where they are
            log(f"[   0.00 s] could not put back {len(left)} of your file(s) ({', '.join(left[:5])}); "
                f"they are in {old / 'site'}")
        else:
            shutil.rmtree(old, ignore_errors=True)
    return keep
