"""Give freed memory back to the system during a build.

glibc raises its mmap threshold each time a large block is freed, up to 32 MB, after which
blocks of that size come from the heap and stay with the process once freed: the significance
stage's chunked bootstrap left a 250k-run build holding 1.07 GB of which about 350 MB was live
data. A fixed threshold (1 MiB) keeps large blocks mapped, so they return when freed, and
:func:`trim` hands back the heap's free pages between stages (glibc only; elsewhere nothing
happens). pandas' text columns live in Arrow buffers, whose default pool (mimalloc or
jemalloc) keeps what is freed for reuse: about 200 MB more at the significance stage's peak
than with the system allocator, which Arrow is then told to use.
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


def return_freed_memory() -> bool:
    """For the rest of the process: Arrow allocates with the system allocator, and glibc's
    mmap threshold is fixed at 1 MiB. True when the threshold could be set (glibc)."""
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
    libc = _libc()
    return bool(libc is not None and libc.mallopt(_M_MMAP_THRESHOLD, _THRESHOLD))


def trim() -> None:
    """Return the heap's free pages to the system."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
