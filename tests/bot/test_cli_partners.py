"""`htx partner ...` in a subprocess on a SQLite file of its own: rules files, invites, tokens, webhooks."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.bot.test_cli import htx

DOCS = Path(__file__).resolve().parents[2] / "docs"


def rows(tmp_path: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / "cli.db") as db:
        return db.execute(query).fetchall()


def test_the_sample_partners_file_loads_and_lists_with_its_rules(tmp_path):
    assert htx(tmp_path, "demo").returncode == 0
    loaded = htx(tmp_path, "partner", "load", str(DOCS / "partners-sample.json"))
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "1 partners created, 3 updated" in loaded.stdout
    listed = htx(tmp_path, "partner", "list").stdout
    assert "TM-HANOI: HTX Thương mại Rau sạch Hà Nội" in listed
    assert "delivers to Hà Nội; carries rau; min order 80,000đ; fee 25,000đ, free from 500,000đ" in listed
    [(wards, capacity)] = rows(tmp_path, "SELECT wards, daily_capacity FROM partners WHERE code = 'TM-HANOI'")
    assert json.loads(str(wards))[0] == "Phường Hoàn Kiếm" and capacity == 50


def test_a_partners_file_with_unknown_places_or_bad_values_changes_nothing(tmp_path):
    assert htx(tmp_path, "migrate").returncode == 0
    bad_places = tmp_path / "places.json"
    bad_places.write_text(
        json.dumps([{"code": "X1", "name": "Xx", "provinces": ["Bình Thuận"], "shipping_fee": 1}]), encoding="utf-8"
    )
    refused = htx(tmp_path, "partner", "load", str(bad_places))
    assert refused.returncode == 1 and "X1: province Bình Thuận" in refused.stdout
    bad_values = tmp_path / "values.json"
    bad_values.write_text(json.dumps([{"code": "X2", "name": "Yy", "shipping_fee": -5}]), encoding="utf-8")
    refused = htx(tmp_path, "partner", "load", str(bad_values))
    assert refused.returncode == 1 and "shipping_fee" in refused.stdout
    assert rows(tmp_path, "SELECT code FROM partners WHERE code LIKE 'X%'") == []


def test_invite_token_and_webhook_print_their_secret_once_and_store_only_what_they_must(tmp_path):
    assert htx(tmp_path, "demo").returncode == 0
    invite = htx(tmp_path, "partner", "invite", "tm-saigon").stdout.split()[0]
    assert len(invite) == 8
    token = htx(tmp_path, "partner", "token", "TM-SAIGON").stdout.split()[0]
    assert token.startswith("htxp_")
    [(stored,)] = rows(tmp_path, "SELECT token_hash FROM partner_tokens")
    assert token not in str(stored) and len(str(stored)) == 64
    assert "revoked 1 token(s)" in htx(tmp_path, "partner", "token", "TM-SAIGON", "--revoke").stdout
    assert rows(tmp_path, "SELECT count(*) FROM partner_tokens WHERE revoked_at IS NULL") == [(0,)]
    webhook = htx(tmp_path, "partner", "webhook", "TM-SAIGON", "https://partner.example/events").stdout
    secret = webhook.split("signing secret (docs/partner-webhooks.md): ")[1].strip()
    stored_hook = rows(tmp_path, "SELECT webhook_url, webhook_secret FROM partners WHERE code = 'TM-SAIGON'")
    assert stored_hook == [("https://partner.example/events", secret)]
    assert htx(tmp_path, "partner", "webhook", "TM-SAIGON", "ftp://nope").returncode == 1
    htx(tmp_path, "partner", "webhook", "TM-SAIGON", "--off")
    assert rows(tmp_path, "SELECT webhook_url FROM partners WHERE code = 'TM-SAIGON'") == [(None,)]


def test_an_unknown_partner_code_is_refused(tmp_path):
    result = htx(tmp_path, "partner", "token", "NOPE")
    assert result.returncode == 1 and "no partner with code NOPE" in result.stdout
