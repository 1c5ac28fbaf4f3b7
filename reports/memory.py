"""Give freed memory back to the system during a build (glibc; elsewhere nothing happens).

glibc raises its mmap threshold each time a large block is freed, up to 32 MB, after which
blocks of that size come from the heap and stay with the process once freed: the significance
stage's chunked bootstrap left a 250k-run build holding 1.07 GB of which about 350 MB was live
data. A fixed threshold (1 MiB) keeps large blocks mapped, so they return when freed, and
:func:`trim` hands back the heap's free pages between stages.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

#: mallopt's parameter number for the mmap threshold (glibc's malloc.h)
_M_MMAP_THRESHOLD = -3
_THRESHOLD = 1 << 20


@functools.lru_cache(maxsize=1)
def _libc():
    """glibc, or None (musl, macOS, Windows: their allocators behave differently)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    if libc is None or not hasattr(libc, "mallopt") or not hasattr(libc, "malloc_trim"):
        return None
    return libc


def keep_large_blocks_mapped() -> bool:
    """Fix the mmap threshold at 1 MiB for the rest of the process; True when applied."""
    libc = _libc()
    return bool(libc is not None and libc.mallopt(_M_MMAP_THRESHOLD, _THRESHOLD))


def trim() -> None:
    """Return the heap's free pages to the system."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
