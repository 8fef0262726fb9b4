"""What the model benchmarks share at the end: run the measurement, then print JSON or a table;
a data folder or model folder that cannot be used is a one-line error (exit 2)."""

from __future__ import annotations

import json
import sys
from typing import Callable

from vcam_lipstick.media import MediaError
from vcam_lipstick.model.spec import ModelError


def measure_and_print(measure: Callable[[], dict], as_json: bool, print_table: Callable[[dict], None]) -> int:
    try:
        result = measure()
    except (MediaError, ModelError) as exc:  # a folder without labelled faces, a model that will not load
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(result))
    else:
        print_table(result)
    return 0
