"""Start-up without the cyclic garbage collector scanning the growing heap again and again.

Building the portal allocates a few hundred thousand long-lived objects (models, mappers,
views, routes, schemas). While they are being created CPython's collector runs full
collections over everything allocated so far, several times: a quarter of the start-up time.
None of it is garbage. :func:`startup_gc` switches the collector off while the app is built
and then *freezes* what exists (``gc.freeze``): those objects move to a permanent generation
that later collections skip, so the work is not merely postponed to the first requests.
This is what the Python documentation recommends for servers that fork workers (gunicorn
with ``preload_app``): frozen objects are also not touched by the children's collections,
which keeps their memory pages shared.

The cost is that the few cyclic garbage objects of start-up are never freed. Processes that
build many apps (the test suite) therefore leave the collector alone: the freeze is on by
default only outside ``TESTING`` and can be set with the ``FREEZE_GC`` config key.

Importing the stack (Flask, SQLAlchemy, FAB, the portal: modules, classes and functions that
live as long as the process) is the same story one step earlier, so ``portal.app_factory``
imports it inside ``startup_gc(freeze=True)`` whatever the configuration.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def startup_gc(freeze: bool) -> Iterator[None]:
    """Run the block with the collector off and freeze its objects when it succeeds."""
    if not freeze:
        yield
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Run a bulk job (an import of many rows) with the collector off: each of its
    collections would scan every row already read, again and again, and none is garbage.
    The collector is back on (and runs once) afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            gc.collect(1)
