"""``import repalign`` loads only NumPy, SciPy and array-api-compat (plus the stdlib)."""

import json
import subprocess
import sys

ALLOWED = {"repalign", "numpy", "scipy", "array_api_compat"}


def _modules_after(code: str) -> set[str]:
    script = (
        "import sys, json\n"
        "before = set(sys.modules)\n"
        f"{code}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    return set(json.loads(out.stdout))


def test_import_loads_only_light_dependencies():
    third_party = _modules_after("import repalign") - set(sys.stdlib_module_names)
    assert third_party <= ALLOWED, f"heavy imports: {sorted(third_party - ALLOWED)}"


def test_computing_a_measure_loads_no_heavy_library():
    code = ("import numpy as np, repalign\n"
            "X = np.random.default_rng(0).standard_normal((20, 3))\n"
            "for m in repalign.list_measures(): repalign.measure(m.name, X, X ** 3)\n"
            "repalign.measure('rsa', X, X ** 3, compare='kendall_tau_a')")
    loaded = _modules_after(code)
    for heavy in ("torch", "dask", "zarr", "pandas", "sklearn", "matplotlib"):
        assert heavy not in loaded
