"""`htx trace load FILE.json` in a subprocess on a SQLite file of its own."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.bot.test_cli import htx

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "origin-sample.json"


def rows(tmp_path: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / "cli.db") as db:
        return db.execute(query).fetchall()


def test_the_sample_file_loads_onto_the_demo_and_a_second_load_adds_nothing(tmp_path):
    assert htx(tmp_path, "demo").returncode == 0
    batches = rows(tmp_path, "SELECT count(*) FROM harvest_batches")[0][0]
    loaded = htx(tmp_path, "trace", "load", str(SAMPLE))
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "3 harvest batches added (0 already there)" in loaded.stdout
    again = htx(tmp_path, "trace", "load", str(SAMPLE))
    assert "0 harvest batches added (3 already there)" in again.stdout
    assert rows(tmp_path, "SELECT count(*) FROM harvest_batches") == [(batches + 3,)]
    assert rows(tmp_path, "SELECT code FROM harvest_batches WHERE code = 'HL-LO-1119A'") == [("HL-LO-1119A",)]


def test_a_bad_file_prints_each_problem_with_its_place_and_changes_nothing(tmp_path):
    assert htx(tmp_path, "demo").returncode == 0
    before = rows(tmp_path, "SELECT growing_area_code FROM products ORDER BY sku")
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "products": [
                    {"sku": "TL-RD-HD", "growing_area_code": "CHANGED"},
                    {"sku": "NOPE", "certificates": [{"scheme": "VietGAP", "number": "1"}]},
                ]
            }
        ),
        encoding="utf-8",
    )
    refused = htx(tmp_path, "trace", "load", str(bad))
    assert refused.returncode == 1
    assert (
        "not loaded, 1 problem(s)" in refused.stdout and "products[1].sku: no product with SKU 'NOPE'" in refused.stdout
    )
    assert rows(tmp_path, "SELECT growing_area_code FROM products ORDER BY sku") == before
    bad.write_text('{"products": [{"sku": "TL-RD-HD", "certificates": [{"scheme": "VietGAP"}]}]}', encoding="utf-8")
    refused = htx(tmp_path, "trace", "load", str(bad))
    assert refused.returncode == 1 and "products[0].certificates[0].number: Field required" in refused.stdout
    missing = htx(tmp_path, "trace", "load", str(tmp_path / "missing.json"))
    assert missing.returncode == 1 and "No such file" in missing.stdout
