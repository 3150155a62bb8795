"""A null in an integer column is served when the model copes with it, refused when not.

Integer columns (a CSV column of whole numbers without a gap) are probed at
registration like the others: the probe sends the column as floats with NaN, which is
how pandas reads such a column with a gap and how the service passes it on.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests

from mlci.model.load import load_model
from mlci.serve.app import create_app, load_served_model
from mlci.serve.payload import InputSchema, PayloadError, parse_request, schema_from_frame
from mlci.serve.server import start_server


def _frame(n: int = 240) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(3)
    k = rng.integers(0, 3, n)
    frame = pd.DataFrame(
        {
            "island": np.array(["Biscoe", "Dream", "Torgersen"], dtype=object)[k],
            "flipper_length_mm": (190 + 12 * k + rng.normal(0, 5, n)).round().astype(np.int64),
            "body_mass_g": 3700.0 + 600 * k + rng.normal(0, 300, n),
        }
    )
    return frame, pd.Series(np.array(["Adelie", "Chinstrap", "Gentoo"])[k])


def _save(model: Any, path: Path) -> Path:
    import skops.io as sio

    sio.dump(model, path)
    return path


@pytest.fixture(scope="module")
def imputing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """Imputer + one-hot encoder + random forest, trained with no gap in any column."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame, y = _frame()
    categories = make_pipeline(
        SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
    )
    prep = ColumnTransformer(
        [
            ("num", SimpleImputer(strategy="median"), ["flipper_length_mm", "body_mass_g"]),
            ("cat", categories, ["island"]),
        ]
    )
    model = Pipeline([("prep", prep), ("rf", RandomForestClassifier(20, random_state=0))])
    model.fit(frame, y)
    return _save(model, tmp_path_factory.mktemp("imputing") / "model.skops"), frame


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A plain logistic regression on numbers: it cannot take a missing value anywhere."""
    from sklearn.linear_model import LogisticRegression

    frame, y = _frame()
    frame = frame.drop(columns="island")
    model = LogisticRegression(max_iter=2000).fit(frame, y)
    return _save(model, tmp_path_factory.mktemp("plain") / "model.skops"), frame


def _record(frame: pd.DataFrame) -> dict[str, Any]:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in frame.iloc[0].items()}


def test_an_imputing_pipeline_takes_a_null_in_an_integer_column(
    imputing: tuple[Path, pd.DataFrame],
) -> None:
    path, frame = imputing
    loaded = load_model(path, trusted=True)  # our own model (numpy.dtype inside)
    schema = schema_from_frame(frame, model=loaded)
    assert schema.columns["flipper_length_mm"] == "integer"
    assert schema.nullable == {"island": True, "flipper_length_mm": True, "body_mass_g": True}
    served = load_served_model(
        path, metadata={"input_schema": schema.to_dict()}, version=1, trusted=True
    )
    record = _record(frame)
    record["flipper_length_mm"] = None
    with start_server(create_app(served)) as running:
        resp = requests.post(f"{running.url}/predict", json={"records": [record]}, timeout=30)
        assert resp.status_code == 200, resp.text
        offline = loaded.predict(pd.DataFrame([record]).astype({"flipper_length_mm": float}))
        assert resp.json()["predictions"] == offline.tolist()
        # the same null in a columnar body and in an Arrow stream
        columns = {k: [v] for k, v in record.items()}
        resp = requests.post(f"{running.url}/predict", json={"columns": columns}, timeout=30)
        assert resp.status_code == 200, resp.text
        resp = requests.post(
            f"{running.url}/predict",
            data=_arrow(columns),
            headers={"content-type": "application/vnd.apache.arrow.stream"},
            timeout=30,
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["predictions"] == offline.tolist()


def _arrow(columns: dict[str, list[Any]]) -> bytes:
    import pyarrow as pa

    table = pa.table(
        {
            "island": pa.array(columns["island"], pa.string()),
            "flipper_length_mm": pa.array(columns["flipper_length_mm"], pa.int64()),
            "body_mass_g": pa.array(columns["body_mass_g"], pa.float64()),
        }
    )
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def test_a_model_without_imputer_refuses_a_null_in_an_integer_column(
    plain: tuple[Path, pd.DataFrame],
) -> None:
    path, frame = plain
    loaded = load_model(path)
    schema = schema_from_frame(frame, model=loaded)
    assert schema.columns["flipper_length_mm"] == "integer"
    assert schema.nullable == {"flipper_length_mm": False, "body_mass_g": False}
    served = load_served_model(path, metadata={"input_schema": schema.to_dict()}, version=1)
    record = _record(frame)
    record["flipper_length_mm"] = None
    with start_server(create_app(served)) as running:
        resp = requests.post(f"{running.url}/predict", json=[record], timeout=30)
    assert resp.status_code == 422
    assert resp.json()["error"] == (
        "column 'flipper_length_mm', row 0: null, but the model cannot take a missing value"
        " in 'flipper_length_mm'; send an integer"
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([1, None, 2.5], "column 'n', row 2: expected an integer, got 2.5"),
        ([None, "3"], "column 'n', row 1: expected an integer, got '3'"),
    ],
)
def test_an_integer_column_with_a_null_still_checks_its_values(
    values: list[Any], message: str
) -> None:

    schema = InputSchema({"n": "integer"}, nullable={"n": True})
    batch = parse_request(b'{"columns": {"n": [1, null, 3]}}', schema)
    assert batch.nulls and batch.columns is not None
    assert batch.columns["n"].dtype == np.float64
    assert np.isnan(batch.columns["n"][1]) and batch.columns["n"][2] == 3.0
    whole = parse_request(b'{"columns": {"n": [1, 2]}}', schema)
    assert whole.columns is not None and whole.columns["n"].dtype == np.int64
    with pytest.raises(PayloadError) as err:
        parse_request(json.dumps({"columns": {"n": values}}).encode(), schema)
    assert err.value.status == 422 and err.value.message == message


def test_an_older_registration_without_probed_integers_serves_the_null(
    imputing: tuple[Path, pd.DataFrame], plain: tuple[Path, pd.DataFrame]
) -> None:
    """Integer columns recorded ``nullable: false`` before they were probed are unknown.

    A null there reaches the model: the imputing pipeline answers it, and a model that
    cannot take it is still refused with 4xx (by the model's own error).
    """
    for (path, frame), status in ((imputing, 200), (plain, 422)):
        schema = schema_from_frame(frame, model=load_model(path, trusted=True))
        raw = schema.to_dict()
        assert raw["probed"] == ["number", "integer", "string"]
        assert InputSchema.from_dict(raw) == schema
        old = {
            "columns": [
                {**c, "nullable": c["type"] != "integer" and c["nullable"]} for c in raw["columns"]
            ]
        }
        parsed = InputSchema.from_dict(old)
        assert parsed is not None and "flipper_length_mm" not in parsed.nullable
        served = load_served_model(path, metadata={"input_schema": old}, version=1, trusted=True)
        record = _record(frame)
        record["flipper_length_mm"] = None
        with start_server(create_app(served)) as running:
            resp = requests.post(f"{running.url}/predict", json=[record], timeout=30)
        assert resp.status_code == status, resp.text
        if status == 422:
            assert "could not predict on this input" in resp.json()["error"]
