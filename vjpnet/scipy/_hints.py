"""Name the vjpnet.scipy replacement when a SciPy function calls np.asarray on a traced value.

SciPy's Python-level functions (every scipy.stats distribution, logsumexp, scipy.linalg) convert
their arguments with np.asarray before anything could dispatch, which a traced value refuses.
The refusal's message gets one more sentence from here: it walks the calling frames (only when
the error is raised), finds the SciPy function the user called, e.g. scipy.stats.norm.logpdf,
and names vjpnet.scipy.stats.norm.logpdf when vjpnet has it. SciPy is never imported here.
"""
import importlib
import sys

_MAX_DEPTH = 60


def scipy_replacement_hint():
    """'The conversion happened inside scipy.X: use vjpnet.scipy.X ...' or '' outside SciPy."""
    frames = _scipy_frames()
    if not frames:
        return ""
    for frame in reversed(frames):   # the outermost first: the function the user called
        for path in _candidates(frame):
            if _replacement_exists(path):
                name = ".".join(path)
                return (f"The conversion happened inside scipy.{name}: use "
                        f"vjpnet.scipy.{name} instead, which has the same signature and is "
                        "differentiable.")
    candidates = _candidates(frames[-1])
    name = "scipy." + ".".join(candidates[0]) if candidates else "SciPy"
    return (f"The conversion happened inside {name}, which vjpnet.scipy does not cover (see "
            "the README's SciPy section for what it does).")


def _scipy_frames():
    """The consecutive SciPy frames below the first non-SciPy caller, innermost first."""
    frames = []
    frame = sys._getframe(1)
    for _ in range(_MAX_DEPTH):
        if frame is None:
            break
        module = frame.f_globals.get("__name__") or ""
        if module == "scipy" or module.startswith("scipy."):
            frames.append(frame)
        elif frames:
            break   # left SciPy: the caller is the user's code
        frame = frame.f_back
    return frames


def _public_submodule(module_name):
    """'scipy.stats._distn_infrastructure' -> 'stats'; '' for SciPy's private helpers."""
    parts = module_name.split(".")[1:]
    public = []
    for part in parts:
        if part.startswith("_"):
            break
        public.append(part)
    return ".".join(public)


def _candidates(frame):
    """Possible public paths (submodule, [distribution,] function) for one SciPy frame."""
    submodule = _public_submodule(frame.f_globals.get("__name__", ""))
    name = frame.f_code.co_name
    candidates = []
    owner = frame.f_locals.get("self")
    if owner is not None:   # a distribution method; a frozen distribution holds it in .dist
        owner = getattr(owner, "dist", owner)
        class_name = type(owner).__name__
        for suffix in ("_frozen", "_gen"):
            class_name = class_name[:-len(suffix)] if class_name.endswith(suffix) else class_name
        candidates.append((submodule, class_name, name))
    candidates.append((submodule, name))
    for value in list(frame.f_locals.values()):   # a decorator's wrapper: its wrapped function
        module = getattr(value, "__module__", None)
        if callable(value) and isinstance(module, str) and module.startswith("scipy."):
            wrapped_name = getattr(value, "__name__", None)
            if isinstance(wrapped_name, str):
                candidates.append((_public_submodule(module), wrapped_name))
    return [path for path in candidates if path[0] and not path[-1].startswith("_")]


def _replacement_exists(path):
    try:
        obj = importlib.import_module(f"vjpnet.scipy.{path[0]}")
    except ImportError:
        return False
    for attribute in path[1:]:
        obj = getattr(obj, attribute, None)
        if obj is None:
            return False
    return getattr(obj, "__module__", "").startswith("vjpnet.") or \
        type(obj).__module__.startswith("vjpnet.")
