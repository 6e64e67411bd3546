"""One-off extraction of ``admin_units.json`` (the data :mod:`bot.nlu.address` reads) from PyPI ``vietnamadminunits``.

``vietnamadminunits`` (MIT, Tran Ngoc Minh Hieu) ships its datasets as JSON files. Its code is not used, and this
script does not import it either: the package imports Unidecode (GPL-2.0-or-later) and shapely/geopy. The data
files are found with ``importlib.util.find_spec(...).submodule_search_locations`` and read with ``json``; only the
standard library is used here. The licence of the derived data is in ``LICENSE-vietnamadminunits.txt``.

Re-run it (only to take a new version of the data), from the repository root, in a throwaway venv::

    python3 -m venv /tmp/vau && /tmp/vau/bin/pip install vietnamadminunits==1.0.4
    /tmp/vau/bin/python bot/nlu/data/build_admin_units.py
    rm -rf /tmp/vau

then run ``pytest tests/bot/test_address.py`` and update the version line of ``LICENSE-vietnamadminunits.txt``.
The script checks what it wrote against the package's files (every keyword set, code, name and conversion is
rebuilt from the compact form and compared) and fails loudly if the package's layout changed.

Read: ``data/parser_from_2025.json`` (34 provinces and their 3321 wards/communes/special zones since 1 July 2025),
``data/parser_legacy.json`` (63 provinces, 696 districts, 10035 wards before) and ``data/converter_2025.json``
(which old ward became which new one). ``data/dataset.db`` is not needed.

Layout of ``admin_units.json`` (short keys; a name's short form is the name without its leading type word —
"Phường", "Xã", "Thị trấn", "Đặc khu", "Quận", "Huyện", "Thị xã", "Thành phố", "Tỉnh" — unless ``s`` says else):

- ``provinces``: the 34 new provinces, list position = index. ``key`` (the package's key, "tinhlamdong"),
  ``code`` (2-digit GSO/NSO), ``name`` ("Tỉnh Lâm Đồng"), ``short`` ("Lâm Đồng"), ``k`` extra keywords ("hcm"),
  ``old`` indices into ``old_provinces`` of the units merged into it (in the package's order), and ``wards``:
  ``[code, name, flags, keywords]`` with trailing defaults (0, []) left out.
- ``old_provinces``: the 63 provinces before: ``key``, ``name``, ``short``, ``k``, ``new`` (index in
  ``provinces``), ``districts`` and ``divided``. A district: ``name``, ``s`` short when not derived ("Quận 1"),
  ``u``: 1 when its name is unique in the country, ``k`` extra keywords, ``x`` the new ward an island district
  without wards became (index in the new province's ``wards``), ``wards``: ``[name, new, flags, keywords]``,
  ``new`` being the index of the new ward it went to in the new province's ``wards``, or a list when it was
  split: the package's default new ward first, then the others.
- ``divided``: old district names that stand for several districts (renamed or split before 2025):
  ``k`` their keywords, ``d`` the index of the district of that name when there is one, ``to``: ``[[district
  index, 1 if default else 0], ...]``; the ward named in the address tells which.

A keyword is a name folded (diacritics dropped, đ → d, lowercase) and stripped of everything but letters and
digits: "Phường Phú Trinh" → "phuongphutrinh". Every unit has the keywords of its name and of its short name;
``keywords`` / ``k`` lists only the others (old names, "f9", "vynh" for "vinh"...). Ward flags:
1 = the name is unique in the country (new wards), 2 = told apart from another ward only by diacritics (its
keywords keep them: "cẩmgiàng"), 4 = same but only for its short name (the short-name keyword keeps the
diacritics), 8 = ``keywords`` is the whole list (the name's keywords are not implied).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

PACKAGE = "vietnamadminunits"
VERSION = "1.0.4"
OUT = Path(__file__).resolve().parent / "admin_units.json"

UNIQUE, ACCENTED, SHORT_ACCENTED, EXACT = 1, 2, 4, 8
TYPES = ("thành phố", "thị xã", "thị trấn", "đặc khu", "phường", "xã", "huyện", "quận", "tỉnh")


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("đ", "d")


def key(text: str) -> str:
    return re.sub(r"\W+", "", fold(text))


def accented_key(text: str) -> str:
    return re.sub(r"\W+", "", unicodedata.normalize("NFC", text)).lower()


def short_of(name: str) -> str:
    lower = name.lower()
    return next((name[len(t) + 1 :] for t in TYPES if lower.startswith(t + " ")), name)


def keywords(name: str, short: str, flags: int, extra: list[str]) -> tuple[set[str], set[str]]:
    """(keywords, short keywords matched with diacritics) as the package has them, from the compact form."""
    if flags & EXACT:
        words = set(extra)
    else:
        make = accented_key if flags & ACCENTED else key
        words = {make(name), *extra} if flags & SHORT_ACCENTED else {make(name), make(short), *extra}
    return words, ({accented_key(short)} if flags & SHORT_ACCENTED else set())


def compact(name: str, short: str, flags: int, package_words: list[str], short_words: list[str]) -> tuple[int, list]:
    """Flags and keyword list of a unit such that :func:`keywords` gives back the package's sets."""
    words = set(package_words)
    if short_words:
        flags |= SHORT_ACCENTED
    implied, _ = keywords(name, short, flags, [])
    if implied <= words:
        extra = sorted(words - implied)
    else:
        flags |= EXACT
        extra = sorted(words)
    assert keywords(name, short, flags, extra) == (words, set(short_words)), (name, package_words, short_words)
    return flags, extra


def record(first: Any, second: Any, flags: int, extra: list[str]) -> list:
    """``[first, second, flags, extra]`` without its trailing defaults (0, [])."""
    out = [first, second, flags, extra]
    while len(out) > 2 and out[-1] in (0, []):
        out.pop()
    return out


def data_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"{PACKAGE} is not installed: pip install {PACKAGE}=={VERSION} (in a throwaway venv)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def build(new: dict, old: dict, conv: dict) -> dict:
    new_keys = list(new["DICT_PROVINCE"])
    old_keys = list(old["DICT_PROVINCE"])
    new_of_old = {o: n for n, olds in conv["DICT_PROVINCE"].items() for o in olds}

    # New wards: the folded dictionary, then the ones told apart only by diacritics.
    ward_index: dict[str, dict[str, int]] = {}
    provinces = []
    for pkey in new_keys:
        p = new["DICT_PROVINCE"][pkey]
        short_acc = new["DICT_PROVINCE_WARD_SHORT_ACCENTED"].get(pkey, {})
        wards: list[list[Any]] = []
        ward_index[pkey] = {}
        for table, flags in (
            (new["DICT_PROVINCE_WARD_NO_ACCENTED"][pkey], 0),
            (new["DICT_PROVINCE_WARD_ACCENTED"].get(pkey, {}), ACCENTED),
        ):
            for wkey, w in table.items():
                assert short_of(w["ward"]) == w["wardShort"], w
                unique = new["DICT_UNIQUE_WARD_PROVINCE_NO_ACCENTED"].get(wkey, {}).get("provinceKey") == pkey
                f, extra = compact(
                    w["ward"],
                    w["wardShort"],
                    flags | (UNIQUE if unique else 0),
                    w["wardKeywords"],
                    short_acc.get(wkey, {}).get("wardKeywords", []),
                )
                ward_index[pkey][wkey] = len(wards)
                wards.append(record(w["wardCode"], w["ward"], f, extra))
        assert set(short_acc) <= set(new["DICT_PROVINCE_WARD_NO_ACCENTED"][pkey])
        assert p["province"].endswith(" " + p["provinceShort"]), p
        implied = {key(p["province"]), key(p["provinceShort"])}
        assert implied <= set(p["provinceKeywords"]), p
        provinces.append(
            {
                "key": pkey,
                "code": p["provinceCode"],
                "name": p["province"],
                "short": p["provinceShort"],
                "k": sorted(set(p["provinceKeywords"]) - implied),
                "old": [old_keys.index(o) for o in conv["DICT_PROVINCE"][pkey]],
                "wards": wards,
            }
        )

    def new_ward(old_pdw: str) -> int | list[int] | None:
        npkey = new_of_old[old_pdw.split("_", 1)[0]]
        for nwkey, olds in conv["DICT_PROVINCE_WARD_NO_DIVIDED"][npkey].items():
            if old_pdw in olds:
                return ward_index[npkey][nwkey]
        parts = conv["DICT_PROVINCE_WARD_DIVIDED"].get(npkey, {}).get(old_pdw)
        if not parts:
            return None
        parts = sorted(parts, key=lambda part: not part["isDefaultNewWard"])  # stable: default first
        assert sum(part["isDefaultNewWard"] for part in parts) == 1, old_pdw
        return [ward_index[npkey][part["newWardKey"]] for part in parts]

    old_provinces = []
    for okey in old_keys:
        p = old["DICT_PROVINCE"][okey]
        implied = {key(p["province"]), key(p["provinceShort"])}
        assert implied <= set(p["provinceKeywords"]), p
        districts = []
        district_keys = list(old["DICT_PROVINCE_DISTRICT"][okey])
        for dkey in district_keys:
            d = old["DICT_PROVINCE_DISTRICT"][okey][dkey]
            short = d["districtShort"]
            dimplied = {key(d["district"]), key(short)}
            assert dimplied <= set(d["districtKeywords"]), d
            unique = old["DICT_UNIQUE_DISTRICT_PROVINCE"].get(dkey, {}).get("provinceKey") == okey
            short_acc = old["DICT_PROVINCE_DISTRICT_WARD_SHORT_ACCENTED"].get(okey, {}).get(dkey, {})
            wards = []
            island = None
            for table, flags in (
                (old["DICT_PROVINCE_DISTRICT_WARD_NO_ACCENTED"].get(okey, {}).get(dkey, {}), 0),
                (old["DICT_PROVINCE_DISTRICT_WARD_ACCENTED"].get(okey, {}).get(dkey, {}), ACCENTED),
            ):
                for wkey, w in table.items():
                    if not isinstance(w["ward"], str):  # island district without wards: "NaN"
                        assert not w["wardKeywords"]
                        island = new_ward(f"{okey}_{dkey}_")
                        assert isinstance(island, int), (okey, dkey)
                        continue
                    target = new_ward(f"{okey}_{dkey}_{wkey}")
                    assert target is not None, (okey, dkey, wkey)
                    f, extra = compact(
                        w["ward"],
                        short_of(w["ward"]),
                        flags,
                        w["wardKeywords"],
                        short_acc.get(wkey, {}).get("wardKeywords", []),
                    )
                    wards.append(record(w["ward"], target, f, extra))
            district: dict[str, Any] = {"name": d["district"]}
            if short != short_of(d["district"]):
                district["s"] = short
            if unique:
                district["u"] = 1
            if set(d["districtKeywords"]) - dimplied:
                district["k"] = sorted(set(d["districtKeywords"]) - dimplied)
            if island is not None:
                district["x"] = island
            district["wards"] = wards
            districts.append(district)
        divided = []
        for vkey, v in old["DICT_PROVINCE_DISTRICT_DIVIDED"].get(okey, {}).items():
            entry: dict[str, Any] = {"k": v["dividedDistrictKeywords"]}
            if vkey in district_keys:
                entry["d"] = district_keys.index(vkey)
            entry["to"] = [[district_keys.index(k), int(x["districtDefault"])] for k, x in v["districts"].items()]
            divided.append(entry)
        old_provinces.append(
            {
                "key": okey,
                "name": p["province"],
                "short": p["provinceShort"],
                "k": sorted(set(p["provinceKeywords"]) - implied),
                "new": new_keys.index(new_of_old[okey]),
                "districts": districts,
                "divided": divided,
            }
        )
    return {
        "about": (
            f"Vietnamese administrative units before and after 1 July 2025, derived from {PACKAGE} {VERSION} "
            "(MIT, see LICENSE-vietnamadminunits.txt) by build_admin_units.py, which documents the layout."
        ),
        "source": {"package": PACKAGE, "version": VERSION},
        "provinces": provinces,
        "old_provinces": old_provinces,
    }


def check(out: dict, new: dict, old: dict, conv: dict) -> None:
    """Rebuild the package's tables that matter from ``out`` and compare them with the package's."""

    def fields(rec: list) -> list:
        return rec + [0, []][len(rec) - 2 :] if len(rec) < 4 else rec

    for p in out["provinces"]:
        pkey = p["key"]
        src = new["DICT_PROVINCE"][pkey]
        assert (p["code"], p["name"], p["short"]) == (src["provinceCode"], src["province"], src["provinceShort"])
        assert {key(p["name"]), key(p["short"]), *p["k"]} == set(src["provinceKeywords"])
        src_wards = [
            *new["DICT_PROVINCE_WARD_NO_ACCENTED"][pkey].items(),
            *new["DICT_PROVINCE_WARD_ACCENTED"].get(pkey, {}).items(),
        ]
        short_acc = new["DICT_PROVINCE_WARD_SHORT_ACCENTED"].get(pkey, {})
        for rec, (wkey, w) in zip(p["wards"], src_wards, strict=True):
            code, name, flags, extra = fields(rec)
            assert (code, name, short_of(name)) == (w["wardCode"], w["ward"], w["wardShort"])
            unique = new["DICT_UNIQUE_WARD_PROVINCE_NO_ACCENTED"].get(wkey, {}).get("provinceKey") == pkey
            assert bool(flags & UNIQUE) == unique and bool(flags & ACCENTED) == (not wkey.isascii()), name
            shorts = short_acc.get(wkey, {}).get("wardKeywords", [])
            assert keywords(name, short_of(name), flags, extra) == (set(w["wardKeywords"]), set(shorts)), name
    for i, o in enumerate(out["old_provinces"]):
        okey = o["key"]
        src = old["DICT_PROVINCE"][okey]
        assert (o["name"], o["short"]) == (src["province"], src["provinceShort"])
        assert {key(o["name"]), key(o["short"]), *o["k"]} == set(src["provinceKeywords"])
        new_p = out["provinces"][o["new"]]
        npkey = new_p["key"]
        assert i in new_p["old"] and okey in conv["DICT_PROVINCE"][npkey]
        new_wkeys = [
            *new["DICT_PROVINCE_WARD_NO_ACCENTED"][npkey],
            *new["DICT_PROVINCE_WARD_ACCENTED"].get(npkey, {}),
        ]
        dkeys = list(old["DICT_PROVINCE_DISTRICT"][okey])
        for d, dkey in zip(o["districts"], dkeys, strict=True):
            src_d = old["DICT_PROVINCE_DISTRICT"][okey][dkey]
            assert d["name"] == src_d["district"] and d.get("s", short_of(d["name"])) == src_d["districtShort"]
            assert {key(d["name"]), key(src_d["districtShort"]), *d.get("k", [])} == set(src_d["districtKeywords"])
            assert bool(d.get("u")) == (old["DICT_UNIQUE_DISTRICT_PROVINCE"].get(dkey, {}).get("provinceKey") == okey)
            src_wards = [
                (wkey, w)
                for t in ("DICT_PROVINCE_DISTRICT_WARD_NO_ACCENTED", "DICT_PROVINCE_DISTRICT_WARD_ACCENTED")
                for wkey, w in old[t].get(okey, {}).get(dkey, {}).items()
                if isinstance(w["ward"], str)
            ]
            short_acc = old["DICT_PROVINCE_DISTRICT_WARD_SHORT_ACCENTED"].get(okey, {}).get(dkey, {})
            for rec, (wkey, w) in zip(d["wards"], src_wards, strict=True):
                name, target, flags, extra = fields(rec)
                assert name == w["ward"] and bool(flags & ACCENTED) == (not wkey.isascii()), name
                shorts = short_acc.get(wkey, {}).get("wardKeywords", [])
                assert keywords(name, short_of(name), flags, extra) == (set(w["wardKeywords"]), set(shorts)), name
                pdw = f"{okey}_{dkey}_{wkey}"
                if isinstance(target, int):
                    assert pdw in conv["DICT_PROVINCE_WARD_NO_DIVIDED"][npkey][new_wkeys[target]], pdw
                else:
                    parts = conv["DICT_PROVINCE_WARD_DIVIDED"][npkey][pdw]
                    assert parts[[x["newWardKey"] for x in parts].index(new_wkeys[target[0]])]["isDefaultNewWard"]
                    assert sorted(new_wkeys[t] for t in target) == sorted(x["newWardKey"] for x in parts), pdw
            if "x" in d:
                assert f"{okey}_{dkey}_" in conv["DICT_PROVINCE_WARD_NO_DIVIDED"][npkey][new_wkeys[d["x"]]]
        src_div = old["DICT_PROVINCE_DISTRICT_DIVIDED"].get(okey, {})
        for v, (vkey, src_v) in zip(o["divided"], src_div.items(), strict=True):
            assert v["k"] == src_v["dividedDistrictKeywords"]
            assert v.get("d") == (dkeys.index(vkey) if vkey in dkeys else None)
            assert [[dkeys[t], bool(dflt)] for t, dflt in v["to"]] == [
                [k, x["districtDefault"]] for k, x in src_v["districts"].items()
            ]
    converted = sum(len(olds) for wards in conv["DICT_PROVINCE_WARD_NO_DIVIDED"].values() for olds in wards.values())
    converted += sum(len(splits) for splits in conv["DICT_PROVINCE_WARD_DIVIDED"].values())
    ours = sum(len(d["wards"]) + ("x" in d) for o in out["old_provinces"] for d in o["districts"])
    assert converted == ours, (converted, ours)


def main() -> None:
    folder = data_dir()
    new, old, conv = (
        json.loads((folder / name).read_text(encoding="utf-8"))
        for name in ("parser_from_2025.json", "parser_legacy.json", "converter_2025.json")
    )
    out = build(new, old, conv)
    check(out, new, old, conv)
    OUT.write_text(dump(out) + "\n", encoding="utf-8")
    wards = sum(len(p["wards"]) for p in out["provinces"])
    old_wards = sum(len(d["wards"]) for p in out["old_provinces"] for d in p["districts"])
    print(
        f"{OUT}: {OUT.stat().st_size / 1024:.0f} KiB; {len(out['provinces'])} provinces, {wards} wards; "
        f"{len(out['old_provinces'])} old provinces, "
        f"{sum(len(p['districts']) for p in out['old_provinces'])} old districts, {old_wards} old wards"
    )


def dump(obj: Any, depth: int = 0) -> str:
    """Compact JSON, but containers longer than a line are split one item a line (readable diffs)."""
    flat = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    if len(flat) <= 200 or not isinstance(obj, dict | list):
        return flat
    pad = " " * (depth + 1)
    if isinstance(obj, dict):
        items = [f"{json.dumps(k, ensure_ascii=False)}:{dump(v, depth + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(pad + item for item in items) + "\n" + " " * depth + "}"
    return "[\n" + ",\n".join(pad + dump(item, depth + 1) for item in obj) + "\n" + " " * depth + "]"


if __name__ == "__main__":
    main()
