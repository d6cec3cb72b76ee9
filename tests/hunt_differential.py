"""Long local runs of the differential test that collect every distinct bug instead of stopping.

    python tests/hunt_differential.py --examples 5000 [--waiting] [--only solve,einsum]
                                      [--seed 3] [--max-ops 5] [--no-shrink]

Pass 1 generates and checks `--examples` programs (the same ones as the test with
VJPNET_DIFFERENTIAL_EXAMPLES, unless --seed), and classifies every failure by blame: the first
statement that fails on its own (isolated, its operands as inputs), the check and the kind of
failure. Pass 2 shrinks one program per class with hypothesis and prints its reproducer, with how
many programs it took to find the class first. --waiting includes WAITING_FOR_FIX.
"""
import argparse
import collections
import os
import sys
import time
import warnings

sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)),
                os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

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
    parser.add_argument("--max-ops", type=int, default=5)
    parser.add_argument("--no-shrink", action="store_true")
    options = parser.parse_args()
    warnings.simplefilter("ignore")
    only = [name for name in options.only.split(",") if name]
    entries = [program_table.TABLE[n] for n in only] if only else program_table.ENTRIES
    config = random_programs.Config(
        entries, excluded=() if options.waiting else program_table.WAITING_FOR_FIX,
        max_ops=options.max_ops, strict=False)
    stats = collections.Counter()
    state = {"count": 0, "target": None, "found": {}}
    classes = collections.OrderedDict()   # key -> [first index, count, program]

    def run(program):
        state["count"] += 1
        try:
            differential_checks.run_checks(program, stats=None if state["target"] else stats)
        except differential_checks.ProgramFailure as failure:
            key = blame(program, failure)
            if state["target"] is None:   # pass 1: count and go on
                record = classes.setdefault(key, [state["count"], 0, program, str(failure)])
                record[1] += 1
            elif key == state["target"]:   # pass 2: shrink this class only
                raise

    phases = [Phase.generate] if state["target"] is None else None

    def hypothesis_test(examples, phases):
        test = settings(max_examples=examples, deadline=None, database=None,
                        derandomize=options.seed is None, phases=phases,
                        suppress_health_check=list(HealthCheck), print_blob=False,
                        report_multiple_bugs=False)(
            given(random_programs.programs(config))(run))
        return seed(options.seed)(test) if options.seed is not None else test

    start = time.time()
    hypothesis_test(options.examples, phases)()
    failing = sum(record[1] for record in classes.values())
    print(f"# {state['count']} programs in {time.time() - start:.0f} s, {failing} failing, "
          f"{len(classes)} classes (entry, check, kind)\n")
    for key, (first, count, *_) in classes.items():
        print(f"- {key}: {count} programs, first at program {first}")
    if config.errors:
        print(f"\n{len(config.errors)} errors of table entries (bugs of the test), e.g. "
              f"{config.errors[0][0]}: {config.errors[0][1]!r}")
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
        state["target"] = key
        shrunk = program
        try:
            hypothesis_test(first + 50, [Phase.generate, Phase.shrink])()
        except differential_checks.ProgramFailure as failure:
            shrunk = failure.program
            text = str(failure)
        else:
            text = "(not reproduced in pass 2; unshrunk)\n" + program.reproducer()
        print(f"\n## {key}: first at program {first}, {count} failing programs\n")
        print("```python\n" + text.split("Reproducer:\n\n", 1)[-1].rstrip() + "\n```")
        print(f"(failure: {text.splitlines()[0][:300]})")
        del shrunk


if __name__ == "__main__":
    main()
