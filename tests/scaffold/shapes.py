"""Data shaped like public data sets mlci did not make: penguins (multiclass, text,
missing values, an id and a year), a weather table (a date, a regression target
that is not named like one, a text column that could be a class) and daily bike
rentals (a row number, a date, text categories with gaps, two columns that add up to
the target)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import random
from pathlib import Path

from tests.act.harness import git_repo

SPECIES = ("Adelie", "Chinstrap", "Gentoo")
ISLANDS = ("Biscoe", "Dream", "Torgersen")
WEATHER = ("drizzle", "rain", "sun", "snow", "fog")
SEASONS = ("winter", "spring", "summer", "fall")
WEATHERSIT = ("clear", "mist", "light rain", "heavy rain")


def _csv(header: list[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def penguins(
    n: int = 300, seed: int = 0, start_id: int = 1, *, na: str = "", heavier: int = 0
) -> str:
    """Penguins: ``id`` (increasing), ``species`` (3 classes), text and missing values, ``year``.

    ``na`` is how a missing value is written (the published CSV writes ``NA``);
    ``heavier`` adds grams to every body mass (a shifted batch).
    """
    rng = random.Random(seed)
    rows: list[list[object]] = []
    for i in range(n):
        k = rng.randrange(3)
        bill = round(38 + 6 * k + rng.gauss(0, 2), 1)
        flipper = round(190 + 12 * k + rng.gauss(0, 5))
        mass = round(3700 + 600 * k + rng.gauss(0, 300)) + heavier
        sex = rng.choice(("male", "female", na))
        island = ISLANDS[k] if rng.random() < 0.7 else rng.choice(ISLANDS)
        rows.append(
            [
                start_id + i,
                SPECIES[k],
                island,
                bill if rng.random() > 0.03 else na,
                flipper,
                mass,
                sex,
                rng.choice((2007, 2008, 2009)),
            ]
        )
    header = [
        "id",
        "species",
        "island",
        "bill_length_mm",
        "flipper_length_mm",
        "body_mass_g",
        "sex",
        "year",
    ]
    return _csv(header, rows)


def weather(n: int = 400, seed: int = 0, start: dt.date = dt.date(2012, 1, 1)) -> str:
    """Seattle-like weather: ``date``, precipitation, ``temp_max`` (the target), ``weather``."""
    rng = random.Random(seed)
    rows: list[list[object]] = []
    for i in range(n):
        day = start + dt.timedelta(days=i)
        season = (day.timetuple().tm_yday / 365.0) * 6.283
        temp_min = round(5 - 6 * math.cos(season) + rng.gauss(0, 2), 1)
        precipitation = round(max(0.0, rng.gauss(2, 4)), 1)
        wind = round(abs(rng.gauss(3, 1.5)), 1)
        temp_max = round(temp_min + 8 - 0.4 * precipitation + rng.gauss(0, 1.5), 1)
        rows.append([day.isoformat(), precipitation, temp_max, temp_min, wind, rng.choice(WEATHER)])
    return _csv(["date", "precipitation", "temp_max", "temp_min", "wind", "weather"], rows)


def bike_sharing(
    n: int = 730,
    seed: int = 0,
    start: dt.date = dt.date(2011, 1, 1),
    start_id: int = 1,
    *,
    warmer: float = 0.0,
) -> str:
    """Daily bike rentals (UCI shape): ``instant``, ``dteday``, calendar, weather, ``cnt``.

    ``casual + registered == cnt``; temperatures are normalised to [0, 1] and
    ``warmer`` shifts them (a heat wave); ``weathersit`` is text with gaps.
    """
    rng = random.Random(seed)
    rows: list[list[object]] = []
    for i in range(n):
        day = start + dt.timedelta(days=i)
        phase = math.cos(2 * math.pi * (day.timetuple().tm_yday - 200) / 365.25)
        temp = min(1.0, max(0.02, 0.5 + 0.25 * phase + warmer + rng.gauss(0, 0.06)))
        hum = min(1.0, max(0.2, rng.gauss(0.63, 0.14)))
        wind = max(0.02, rng.gauss(0.19, 0.07))
        k = rng.choices(range(4), weights=(60, 30, 9, 1))[0]
        holiday = int(rng.random() < 0.03)
        working = int(day.weekday() < 5 and not holiday)
        mean = 1500 + 900 * (day.year - 2011) + 5000 * temp - 1200 * k - 800 * hum - 900 * wind
        cnt = max(20, round(mean + rng.gauss(0, 350)))
        casual = round(cnt * (0.35 - 0.2 * working) * rng.uniform(0.6, 1.0))
        rows.append(
            [
                start_id + i,
                day.isoformat(),
                SEASONS[(day.month % 12) // 3],
                day.year - 2011,
                day.month,
                holiday,
                (day.weekday() + 1) % 7,
                working,
                WEATHERSIT[k] if rng.random() > 0.04 else "",
                round(temp, 6),
                round(temp * 0.95 + rng.gauss(0, 0.02), 6),
                round(hum, 6),
                round(wind, 6),
                casual,
                cnt - casual,
                cnt,
            ]
        )
    header = [
        "instant",
        "dteday",
        "season",
        "yr",
        "mnth",
        "holiday",
        "weekday",
        "workingday",
        "weathersit",
        "temp",
        "atemp",
        "hum",
        "windspeed",
        "casual",
        "registered",
        "cnt",
    ]
    return _csv(header, rows)


#: A training script for `weather` data: temp_max from the features in features.json.
WEATHER_TRAIN = '''\
"""Train a linear regression of temp_max on the weather features listed in features.json."""
import json
from pathlib import Path

import pandas as pd
import skops.io as sio
from sklearn.linear_model import LinearRegression

here = Path(__file__).resolve().parent
features = json.loads((here / "features.json").read_text())
data = pd.read_csv(here / "data" / "train.csv")
model = LinearRegression().fit(data[features], data["temp_max"])
sio.dump(model, here / "model.skops")
'''


def penguin_repo(root: Path) -> Path:
    """A repository with penguins data and no mlci files."""
    return git_repo(
        root,
        {
            "data/train.csv": penguins(300, seed=1),
            "data/eval.csv": penguins(100, seed=2, start_id=301),
            "README.md": "# penguins\n",
        },
    )


def weather_repo(root: Path) -> Path:
    """A repository with weather data and no mlci files."""
    return git_repo(
        root,
        {
            "data/train.csv": weather(300),
            "data/eval.csv": weather(100, seed=1, start=dt.date(2012, 10, 27)),
            "README.md": "# weather\n",
        },
    )
