"""Every test leaves vjpnet's global tables as it found them.

A test that registers a user primitive for a NumPy function uses `vjpnet.registered(...)` (or
restores what `register_ufunc` / `register_function` return); a replaced or removed entry, or
an entry added by a test, fails that test (and is undone, so the next tests see the library's
routing). The library's own lazy registrations (vjpnet.scipy on first use) are not changes.
Primitives a test creates are dropped from REGISTRY afterwards.
"""
import pytest

from vjpnet import registry, tape

_TABLES = {"UFUNC_PRIMITIVES": tape.UFUNC_PRIMITIVES, "FUNCTION_HANDLERS": tape.FUNCTION_HANDLERS,
           "UFUNC_METHODS": tape.UFUNC_METHODS}


def _from_the_library(handler):
    origin = getattr(handler, "__wrapped__", None) or getattr(handler, "function", None) or \
        handler
    return getattr(origin, "__module__", "").split(".")[0] in ("vjpnet", "vjpnet_fast")


@pytest.fixture(autouse=True)
def global_tables_unchanged():
    before = {name: dict(table) for name, table in _TABLES.items()}
    nondifferentiable = set(tape.NONDIFFERENTIABLE)
    primitives = dict(registry.REGISTRY)
    yield
    for key in set(registry.REGISTRY) - set(primitives):
        if not key.startswith(("vjpnet.", "vjpnet_fast.")):
            del registry.REGISTRY[key]
    changes = []
    for name, table in _TABLES.items():
        old = before[name]
        for key in list(table):
            if key not in old and not _from_the_library(table[key]):
                changes.append(f"{name}[{key!r}] added")
                del table[key]
        for key, handler in old.items():
            if table.get(key) is not handler:
                changes.append(f"{name}[{key!r}] replaced or removed")
                table[key] = handler
    if not nondifferentiable <= tape.NONDIFFERENTIABLE:
        changes.append(f"NONDIFFERENTIABLE lost {nondifferentiable - tape.NONDIFFERENTIABLE}")
        tape.NONDIFFERENTIABLE.update(nondifferentiable)
    if changes:
        pytest.fail("the test changed vjpnet's dispatch tables (use vjpnet.registered(...) to "
                    "register temporarily): " + "; ".join(changes), pytrace=False)
