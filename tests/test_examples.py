"""Every example runs in --quick mode and writes valid PNGs of the expected size."""
import os
import pathlib
import struct
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = {   # script -> {png name: (width, height)}
    "two_layer_net.py": {"two_layer_net_curves.png": (640, 560)},
    "image_filters.py": {"image_filters.png": (720, 480)},
    "convnet.py": {"convnet_filters.png": (400, 400), "convnet_curves.png": (640, 560)},
    "custom_primitive.py": {},
    "gaussian_process.py": {"gaussian_process.png": (800, 320)},
}
NEEDS = {"gaussian_process.py": ("scipy", "sklearn")}   # script -> optional modules it imports


def png_size(path):
    """(width, height) from a PNG's IHDR chunk; fails on anything that is not a PNG."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR", f"{path} is no PNG"
    return struct.unpack(">II", header[16:24])


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(EXAMPLES))
def test_example_runs_quick_and_writes_its_pictures(script, tmp_path):
    pytest.importorskip("matplotlib")
    for module in NEEDS.get(script, ()):
        pytest.importorskip(module)
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(
            filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))))
    assert result.returncode == 0, result.stderr[-3000:]
    for name, size in EXAMPLES[script].items():
        path = tmp_path / name
        assert path.exists(), f"{script} did not write {name}:\n{result.stdout[-2000:]}"
        assert str(path) in result.stdout, f"{script} does not print where {name} went"
        assert png_size(path) == size
        import matplotlib.image
        assert matplotlib.image.imread(path).shape[:2] == size[::-1]
