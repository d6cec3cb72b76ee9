"""The README's two commands are the ones a newcomer and CI run."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _readme_commands():
    readme = (ROOT / "README.md").read_text()
    head = readme.split("## ", 1)[0]   # the commands stand near the top, before any section
    return re.findall(r"```\n(python3 -m venv .*?)\n```", head)


def test_readme_shows_two_commands_near_the_top():
    example, tests = _readme_commands()
    assert "examples/two_layer_net.py" in example
    assert "pytest" in tests


def test_ci_runs_exactly_the_readme_test_command():
    _, tests = _readme_commands()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert tests in ci_lines, f".ci/run does not run the README's test command {tests!r}"


def test_quick_start_code_runs():
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"## Quick start\n\n```python\n(.*?)```", readme, re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md quick start", "exec"), namespace)
    assert set(namespace["grads"]) == {"W1", "b1", "W2"}
    assert namespace["grads"]["W1"].shape == (3, 8)


def test_transforms_section_runs(capsys):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Transforms\n", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md transforms", "exec"), namespace)
    np = namespace["np"]
    x, v = namespace["x"], namespace["v"]
    assert namespace["J"].shape == (3, 3) and namespace["H"].shape == (3, 3)
    np.testing.assert_allclose(namespace["tangent"], namespace["J"] @ v)
    np.testing.assert_allclose(namespace["Hv"], namespace["H"] @ v)
    np.testing.assert_allclose(namespace["d"], 1 - np.tanh(x) ** 2)
    assert "by source line" in capsys.readouterr().out
