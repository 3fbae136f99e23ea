"""The one formula-neutralising helper, and display rounding of Chinese CSV."""

import csv
import io

import pytest

from app.domain.tables import display_number, neutralise, to_csv


@pytest.mark.parametrize(("text", "out"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("黄岛区", "黄岛区"), ("a=b", "a=b"), ("", ""), ("'=x", "'=x"),
])
def test_neutralise(text: str, out: str) -> None:
    assert neutralise(text) == out


def test_chinese_csv_rounds_and_says_yes_no_english_keeps_precision() -> None:
    columns = (("v", "v", "值"), ("b", "b", "是否"), ("s", "s", "文本"), ("n", "n", "负数"))
    rows = [{"v": 0.9908163265306121, "b": True, "s": "=x", "n": -3.0}, {"v": 30000000.0, "b": False}]
    zh = list(csv.reader(io.StringIO(to_csv(columns, rows, chinese=True).decode("utf-8-sig"))))
    en = list(csv.reader(io.StringIO(to_csv(columns, rows, chinese=False).decode("utf-8-sig"))))
    assert zh == [["值", "是否", "文本", "负数"], ["0.99", "是", "'=x", "-3"], ["30000000", "否", "", ""]]
    assert en == [["v", "b", "s", "n"], ["0.9908163265306121", "true", "'=x", "-3.0"], ["30000000.0", "false", "", ""]]
    assert display_number(-0.001) == "0" and display_number(97.1) == "97.1"
