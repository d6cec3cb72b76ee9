"""Long local runs of the differential test that collect every distinct bug instead of stopping.

    python tests/hunt_differential.py --examples 5000 [--waiting] [--only solve,einsum]
                                      [--focus solve] [--seed 3] [--max-ops 5] [--no-shrink]

Pass 1 generates and checks `--examples` programs (derandomized, or from --seed), and classifies
every failure by blame: the first statement that fails on its own (isolated, its operands as
inputs), the check, the kind of failure and the WAITING_FOR_FIX tags of that statement (which
known bug it is). Pass 2 finds a minimal program of each class (hypothesis, generating programs
that all use the blamed entry) and prints its reproducer, with how many programs of pass 1 it
took to meet the class first. --waiting includes WAITING_FOR_FIX.
"""
import argparse
import collections
import os
import sys
import time
import warnings

sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)),
                os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]

from hypothesis import HealthCheck, Phase, find, given, seed, settings  # noqa: E402
from hypothesis.errors import NoSuchExample  # noqa: E402

import differential_checks  # noqa: E402
import program_table  # noqa: E402
import random_programs  # noqa: E402


def failure_kind(failure):
    """'wrong' for a numeric mismatch, the exception's type for vjpnet raising."""
    cause = failure.__cause__
    return type(cause).__name__ if cause is not None else "wrong"


def blame(program, failure):
    """(entry, check, kind, waiting tags): the first statement failing alone (else
    'composition'), and its tags listed in WAITING_FOR_FIX (which known bug it is)."""
    for statement in program.statements:
        if statement.entry == "adapter":
            continue
        alone = program.isolate(statement)
        try:
            differential_checks.run_checks(alone)
        except differential_checks.ProgramFailure as isolated:
            tags = program.info[statement.name].tags & set(program_table.WAITING_FOR_FIX)
            return (statement.entry, isolated.check, failure_kind(isolated),
                    ",".join(sorted(tags)))
        except Exception:   # noqa: BLE001 - the isolated program itself is not valid
            continue
    return "composition", failure.check, failure_kind(failure), ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--only", default="")
    parser.add_argument("--waiting", action="store_true")
    parser.add_argument("--focus", default=None, help="an entry every program uses")
    parser.add_argument("--max-ops", type=int, default=5)
    parser.add_argument("--no-shrink", action="store_true")
    options = parser.parse_args()
    warnings.simplefilter("ignore")
    only = [name for name in options.only.split(",") if name]
    entries = [program_table.TABLE[n] for n in only] if only else program_table.ENTRIES
    config = random_programs.Config(
        entries, excluded=set(program_table.UNSUPPORTED) | (
            set() if options.waiting else set(program_table.WAITING_FOR_FIX)),
        max_ops=options.max_ops, strict=False,
        focus=program_table.TABLE[options.focus] if options.focus else None)
    stats = collections.Counter()
    features, uses = collections.Counter(), collections.Counter()
    state = {"count": 0}
    classes = collections.OrderedDict()   # key -> [first index, count, program]

    def run(program):
        state["count"] += 1
        features.update({tag.split("/")[-1] for tag in program.tags} |
                        {"float32" if program.uses_float32 else "float64 only"} |
                        {f"{len(program.statements)} statements"})
        uses.update(name for name in program.entries if name != "adapter")
        try:
            differential_checks.run_checks(program, stats=stats)
        except differential_checks.ProgramFailure as failure:
            key = blame(program, failure)
            record = classes.setdefault(key, [state["count"], 0, program, str(failure)])
            record[1] += 1

    test = settings(max_examples=options.examples, deadline=None, database=None,
                    derandomize=options.seed is None, phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck))(
        given(random_programs.programs(config))(run))
    if options.seed is not None:
        test = seed(options.seed)(test)
    start = time.time()
    test()
    failing = sum(record[1] for record in classes.values())
    print(f"# {state['count']} programs in {time.time() - start:.0f} s, {failing} failing, "
          f"{len(classes)} classes (entry, check, kind)\n")
    for key, (first, count, *_) in classes.items():
        print(f"- {key}: {count} programs, first at program {first}")
    if config.errors:
        print(f"\n{len(config.errors)} errors of table entries (bugs of the test), e.g. "
              f"{config.errors[0][0]}: {config.errors[0][1]!r}")
    print("\nprograms with:", ", ".join(f"{k} {v}" for k, v in sorted(features.items())))
    print(f"entries used: {len(uses)} of {len(config.entries)}; least used:",
          ", ".join(f"{k} {v}" for k, v in sorted(uses.items(), key=lambda kv: kv[1])[:8]))
    print("\nchecks:", ", ".join(f"{k} {v}" for k, v in sorted(stats.items())
                                 if k.startswith("ran")))
    skips = [(v, k) for k, v in stats.items() if k.startswith("skipped")]
    for count, key in sorted(skips, reverse=True):
        print(f"  {count:6d} {key}")
    if options.no_shrink:
        for key, (first, count, program, text) in classes.items():
            print(f"\n## {key} (unshrunk, program {first})\n{text}")
        return
    for key, (first, count, program, _) in classes.items():
        print(f"\n## {key}: first at program {first}, {count} failing programs\n")
        print(shrink(key, program, config))


def shrink(key, program, config):
    """A minimal program of the same class: hypothesis, generating programs that all use the
    blamed entry, finds one of the class and shrinks it (else the program as found)."""
    entry = key[0]
    if entry not in program_table.TABLE:   # a composition of entries: keep it as found
        return "(unshrunk)\n```python\n" + program.reproducer() + "```"
    focused = random_programs.Config(config.entries, excluded=config.excluded, strict=False,
                                     max_ops=config.max_ops, focus=program_table.TABLE[entry])

    def same_class(candidate):
        try:
            differential_checks.run_checks(candidate)
        except differential_checks.ProgramFailure as failure:
            return blame(candidate, failure) == key
        return False

    try:
        shrunk = find(random_programs.programs(focused), same_class,
                      settings=settings(max_examples=3000, database=None, derandomize=True,
                                        deadline=None, suppress_health_check=list(HealthCheck)))
    except NoSuchExample:
        return "(not found again; unshrunk)\n```python\n" + program.reproducer() + "```"
    try:
        differential_checks.run_checks(shrunk)
    except differential_checks.ProgramFailure as failure:
        text = str(failure)
    return ("```python\n" + text.split("Reproducer:\n\n", 1)[1].rstrip() + "\n```\n" +
            f"(failure: {text.splitlines()[0][:400]})")


if __name__ == "__main__":
    main()
