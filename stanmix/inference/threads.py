"""Within-chain threads: how many a NUTS fit uses and how its rows are split.

A program whose family supports threads (``Family.threads``) sums its
likelihood with ``reduce_sum`` in chunks of ``grainsize`` rows (its data
entry; 0: the whole table as one chunk); each chain then evaluates its
gradient on ``threads_per_chain`` threads. Pure policies; the engines pass
the count to Stan.
"""

from __future__ import annotations

import os

from stanmix import _validation as check


def usable_cores() -> int:
    """The cores this process may fill: the machine's, capped by
    ``OMP_NUM_THREADS`` where it is set, as joblib's and Dask's worker
    processes set it (to 1) so that parallel fits do not oversubscribe the
    machine with threads.

    Examples
    --------
    >>> usable_cores() >= 1
    True
    """
    cores = os.cpu_count() or 1
    try:
        cap = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return cores
    return max(1, min(cores, cap))


def check_threads(value: object) -> int:
    """``threads_per_chain`` as a positive int, or a clear error.

    Examples
    --------
    >>> check_threads(2)
    2
    """
    return check.integer("threads_per_chain", value, low=1)


def spare_threads(chains: int, cores: int | None) -> int:
    """Threads per chain that put every core to work when there are fewer
    chains than cores (and one thread per chain otherwise).

    Examples
    --------
    >>> spare_threads(chains=1, cores=2), spare_threads(chains=4, cores=2)
    (2, 1)
    """
    return max(1, (cores or 1) // max(1, int(chains)))


def grainsize(n_rows: int, threads: int) -> int:
    """The ``grainsize`` data entry: 0 (the whole table as one chunk) for
    one thread, else rows per chunk so that each thread gets about four chunks
    (small enough to balance the load, large enough that each chunk's matrix
    products dominate its scheduling cost).

    Examples
    --------
    >>> grainsize(10_000, 1), grainsize(10_000, 2)
    (0, 1250)
    """
    if threads <= 1:
        return 0
    return max(1, int(n_rows) // (4 * int(threads)))
