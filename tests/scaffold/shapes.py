"""Data shaped like public data sets mlci did not make: penguins (multiclass, text,
missing values, an id and a year) and a weather table (a date, a regression target
that is not named like one, a text column that could be a class)."""

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


def _csv(header: list[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def penguins(n: int = 300, seed: int = 0, start_id: int = 1) -> str:
    """Penguins: ``id`` (increasing), ``species`` (3 classes), text and missing values, ``year``."""
    rng = random.Random(seed)
    rows: list[list[object]] = []
    for i in range(n):
        k = rng.randrange(3)
        bill = round(38 + 6 * k + rng.gauss(0, 2), 1)
        flipper = round(190 + 12 * k + rng.gauss(0, 5))
        mass = round(3700 + 600 * k + rng.gauss(0, 300))
        sex = rng.choice(("male", "female", ""))
        island = ISLANDS[k] if rng.random() < 0.7 else rng.choice(ISLANDS)
        rows.append(
            [
                start_id + i,
                SPECIES[k],
                island,
                bill if rng.random() > 0.03 else "",
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
