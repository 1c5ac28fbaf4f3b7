"""The CSV adapter passes the contract, from CSV, Parquet and JSON-lines files."""
import pandas as pd
import pytest

from sweepsight import adapters
from sweepsight.adapters.coerce import flatten
from tests import contract


def _frame() -> pd.DataFrame:
    rows = []
    for i, r in enumerate(contract.runs()):
        row = {"run_id": f"r{i}", "name": r["name"], "state": "FINISHED",
               "start_time": "2026-01-01T00:00:00Z"}
        row.update({f"params.{k}": v for k, v in flatten(r["config"]).items()})
        row.update({f"metrics.{k}": v for k, v in r["metrics"].items()})
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_contract(tmp_path, suffix):
    path = tmp_path / f"sweep{suffix}"
    frame = _frame()
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_json(path, orient="records", lines=True)
    contract.assert_contract(adapters.load("csv", {"path": str(path)}), "csv")
