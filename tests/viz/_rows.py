"""Hand-made result rows for the figure tests, with the measure fields real rows carry."""

import pandas as pd

import repalign
from repalign.results import measure_fields


def result_rows(records) -> pd.DataFrame:
    """``records`` (dicts or a DataFrame) with ``kind``, ``symmetric`` and the bounds added.

    Registered measures get their own (at their default parameters); any other
    name is taken as a symmetric similarity in [0, 1].
    """
    frame = pd.DataFrame(records)
    names = {info.name for info in repalign.list_measures()}

    def fields(name):
        if name in names:
            found = measure_fields(repalign.get(name))
            return {k: found[k] for k in ("kind", "symmetric", "bound_low", "bound_high")}
        return {"kind": "similarity", "symmetric": True, "bound_low": 0.0, "bound_high": 1.0}

    extra = pd.DataFrame([fields(name) for name in frame["measure"]], index=frame.index)
    return pd.concat([frame, extra[[c for c in extra if c not in frame]]], axis=1)
