"""`htx vietqr` in a subprocess: the payload on stdout, a PNG that decodes back to it, refusals explained."""

from __future__ import annotations

import zxingcpp
from PIL import Image

from orders.vietqr import is_valid
from tests.bot.test_cli import htx


def test_vietqr_prints_the_payload_and_writes_a_png_that_decodes_to_it(tmp_path):
    image = tmp_path / "qr.png"
    result = htx(tmp_path, "vietqr", "--bank", "970436", "--account", "1023456789", "--amount", "150000",
                 "--memo", "Đơn DH7K2M9Q", "--png", str(image))  # fmt: skip
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("Vietcombank 1023456789: 000201010212")
    code = first.split(": ", 1)[1]
    assert is_valid(code) and "54061500005802VN" in code and "0812Don DH7K2M9Q" in code
    [found] = zxingcpp.read_barcodes(Image.open(image))
    assert found.text == code


def test_vietqr_refuses_an_unknown_bank_and_lists_the_known_ones(tmp_path):
    result = htx(tmp_path, "vietqr", "--bank", "970499", "--account", "123")
    assert (
        result.returncode == 1
        and "unknown bank BIN '970499'" in result.stdout
        and "970436 Vietcombank" in result.stdout
    )
