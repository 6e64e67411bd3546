"""Product search: typos, ties, and an index that follows catalogue changes one product at a time."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import update

from catalog.demo import demo_index
from catalog.live_index import LiveIndex
from catalog.models import Product
from catalog.queries import get_product
from catalog.search import ProductIndex, SearchEntry, words


def entry(sku: str, name: str, coop: str = "HTX Demo", **changes) -> SearchEntry:
    return SearchEntry(sku, name, "DEMO", coop, changes.pop("category", "rau"), (), "kg", Decimal(1), **changes)


def test_one_keystroke_typos_are_forgiven_but_other_syllables_are_not():
    index = demo_index()
    assert index.lookup("lonh") == (("long", 0.8),)  # neighbouring key
    assert index.lookup("lnog") == (("long", 0.8),)  # swapped letters
    assert index.lookup("chuaa") == (("chua", 0.8),)  # doubled letter
    assert index.lookup("thanhlong") == (("thanh", 1.0), ("long", 1.0))  # run together
    assert index.lookup("chao") == ()  # a greeting, not "chua"
    assert index.lookup("pham") == ()  # "sản phẩm", not "Hàm Đức"
    assert index.lookup("huong") == ()  # "hướng dẫn", not "muống"


def test_a_tie_lists_the_shortest_fitting_names_first():
    match = demo_index().match(words("thanh long ruột đỏ"))
    assert match is not None and match.sku is None
    assert match.candidates == ("TL-RD-HD", "TL-HC-PH")


def test_upsert_and_remove_change_only_that_product():
    index = ProductIndex([entry("A", "Cà chua"), entry("B", "Cải ngọt")])
    index.upsert(entry("A", "Cà chua bi"))
    assert index.match(["bi"]).sku == "A"
    index.remove("A")
    assert index.match(["chua"]) is None and index.match(["ngot"]).sku == "B"
    assert index.lookup("bi") == ()


def test_sold_out_products_come_after_those_in_stock_in_a_tie():
    index = ProductIndex([entry("A", "Xoài cát", sold_out=True), entry("B", "Xoài keo")])
    assert index.match(["xoai"]).candidates == ("B", "A")


async def test_the_live_index_follows_aliases_stock_and_new_products(session):
    live = LiveIndex()
    index = await live.current(session)
    assert index.match(words("dragon fruit")) is None
    await session.execute(update(Product).where(Product.sku == "TL-RD-HD").values(aliases=["dragon fruit"]))
    lettuce = await get_product(session, "RAU-XALACH-TP")
    lettuce.stock = Decimal(0)
    await session.flush()
    index = await live.current(session)
    assert index.match(words("dragon fruit")).sku == "TL-RD-HD"
    assert index.entries["RAU-XALACH-TP"].sold_out
    assert len(index.entries) == 9
    lettuce.stock = Decimal(5)  # changed again, still inside the overlap: its newer change time is seen
    await session.flush()
    assert not (await live.current(session)).entries["RAU-XALACH-TP"].sold_out
