"""payload.parse: JSON and CSV bodies (UTF-8 with or without BOM, GBK) into raw rows, or a clear refusal."""

import orjson
import pytest

from app.domain.payload import PayloadError, RawRow, TooManyValues, UnsupportedType, media_type, parse

HEADER = "indicator,unit,period,value,numerator,denominator,comment\r\n"
ROW = "t03-campus-network-compliance,黄岛区,2020,97.1,971,1000,全部\r\n"
EXPECTED = RawRow(index=0, line=2, indicator="t03-campus-network-compliance", unit="黄岛区", period="2020",
                  value="97.1", numerator="971", denominator="1000", comment="全部")


def rows(body: bytes | str, content_type: str = "text/csv", max_values: int = 100) -> list[RawRow]:
    return parse(body.encode() if isinstance(body, str) else body, content_type, max_values=max_values)


@pytest.mark.parametrize(("header", "expected"), [
    ("application/json", ("application/json", None)),
    ("Text/CSV; Charset=GBK", ("text/csv", "gbk")),
    ('text/csv; charset="utf-8"; header=present', ("text/csv", "utf-8")),
    ("text/csv; charset=", ("text/csv", None)),
    ("", ("", None)),
    (None, ("", None)),
])
def test_media_type(header: str | None, expected: tuple[str, str | None]) -> None:
    assert media_type(header) == expected


# --- JSON ----------------------------------------------------------------------------------------------

def test_json_unit_and_period_apply_to_every_value_unless_a_value_names_its_own() -> None:
    body = orjson.dumps({"unit": "370211", "period": "2020", "values": [
        {"indicator": "a", "value": 1},
        {"indicator": "b", "unit": "370202", "period": "2019Q1", "numerator": 1, "denominator": 2, "comment": "c"},
    ]})
    got = rows(body, "application/json")
    assert got == [
        RawRow(index=0, line=None, indicator="a", unit="370211", period="2020", value=1),
        RawRow(index=1, line=None, indicator="b", unit="370202", period="2019Q1", numerator=1, denominator=2,
               comment="c"),
    ]


def test_json_scalars_are_kept_as_given() -> None:
    body = orjson.dumps({"values": [{"indicator": "a", "unit": 370211, "value": "1,000", "numerator": True}]})
    [row] = rows(body, "application/problem+json")
    assert (row.unit, row.value, row.numerator, row.period) == (370211, "1,000", True, None)


def test_json_unknown_fields_and_non_objects_become_rows_to_reject() -> None:
    body = orjson.dumps({"values": [{"indicator": "a", "colour": 1, "size": 2}, 5, ["x"]]})
    got = rows(body, "application/json; charset=utf-8")
    assert [tuple(map(str, r.extra)) for r in got] == [("colour", "size"), ("(not an object)",), ("(not an object)",)]
    assert [r.index for r in got] == [0, 1, 2]


@pytest.mark.parametrize("body", [
    b"", b"{", b"\xff\xfe", b"null", b"[]", b'"values"', b"{\"values\": {}}", b'{"values": null}', b"{}",
    b'{"values": [], "unit": "370211", "extra": 1}', b"\xef\xbb\xbf{\"values\": []}",
])
def test_unreadable_json(body: bytes) -> None:
    with pytest.raises(PayloadError):
        rows(body, "application/json")


def test_json_value_limit() -> None:
    body = orjson.dumps({"values": [{"indicator": "a"}] * 3})
    assert len(rows(body, "application/json", max_values=3)) == 3
    with pytest.raises(TooManyValues):
        rows(body, "application/json", max_values=2)


# --- CSV -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "content_type"), [
    ((HEADER + ROW).encode("utf-8"), "text/csv"),
    (b"\xef\xbb\xbf" + (HEADER + ROW).encode("utf-8"), "text/csv"),
    (b"\xef\xbb\xbf" + (HEADER + ROW).encode("utf-8"), "text/csv; charset=utf-8"),
    ((HEADER + ROW).encode("utf-8"), "application/csv; charset=UTF8"),
    ((HEADER + ROW).encode("gbk"), "text/csv; charset=gbk"),
    ((HEADER + ROW).encode("gbk"), "text/csv; charset=gb2312"),
    ((HEADER + ROW).encode("gb18030"), "text/csv; charset=GB18030"),
    ((HEADER + ROW).encode("gbk"), "text/csv"),  # no charset: UTF-8 fails, GB18030 reads it
])
def test_csv_encodings(body: bytes, content_type: str) -> None:
    assert rows(body, content_type) == [EXPECTED]


def test_csv_header_is_case_and_space_insensitive_and_may_omit_and_reorder_columns() -> None:
    got = rows(" Period , INDICATOR ,value\n2020Q1,x,3\n")
    assert got == [RawRow(index=0, line=2, indicator="x", period="2020Q1", value="3")]


def test_csv_lines_count_the_header_blank_lines_and_multi_line_cells() -> None:
    body = (HEADER + ROW + "\r\n,,,,,,\r\n"  # lines 1-4
            + 'x,370211,2020,1,,,"one\r\ntwo"\r\n' + "y,370211,2020\r\n" + "z,370211,2020,2,,,\n")
    got = rows(body)
    assert [(r.index, r.line, r.indicator) for r in got] == [(0, 2, EXPECTED.indicator), (1, 5, "x"), (2, 7, None),
                                                             (3, 8, "z")]
    assert got[1].comment == "one\r\ntwo"
    assert tuple(map(str, got[2].extra)) == ("3 cells for 7 columns",)


def test_csv_empty_cells_are_none_and_cells_are_stripped() -> None:
    [row] = rows("indicator,unit,period,value,comment\n x , 370211 ,2020,  ,  \n")
    assert (row.indicator, row.unit, row.value, row.comment) == ("x", "370211", None, None)


@pytest.mark.parametrize(("body", "content_type"), [
    (b"", "text/csv"),
    (b"\xef\xbb\xbf", "text/csv"),
    (b"unit,period,value\n370211,2020,1\n", "text/csv"),  # no indicator
    (b"indicator,value\nx,1\n", "text/csv"),  # no period
    (b"indicator,period,period\nx,2020,2020\n", "text/csv"),  # duplicate column
    (b"indicator,period,colour\nx,2020,red\n", "text/csv"),  # unknown column
    ((HEADER + ROW).encode("gbk"), "text/csv; charset=utf-8"),  # declared UTF-8, is not
    (b"indicator,period\n\xff\xff\xff,2020\n", "text/csv"),  # neither UTF-8 nor GB18030
    ((HEADER + ROW).encode("utf-8"), "text/csv; charset=latin-1"),  # unsupported charset
    (b'indicator,period,comment\nx,2020,"open\ny,2019,\n', "text/csv"),  # unterminated quote swallows lines
])
def test_unreadable_csv(body: bytes, content_type: str) -> None:
    with pytest.raises(PayloadError):
        rows(body, content_type)


def test_csv_header_only_is_no_rows() -> None:
    assert rows(HEADER) == []


def test_csv_row_limit_skips_blank_lines() -> None:
    body = HEADER + ROW * 3 + "\r\n" * 10
    assert len(rows(body, max_values=3)) == 3
    with pytest.raises(TooManyValues):
        rows(HEADER + ROW * 4, max_values=3)


@pytest.mark.parametrize("content_type", ["text/plain", "", None, "application/xml", "multipart/form-data",
                                          "text/csvx", "application/x-www-form-urlencoded"])
def test_other_content_types_are_unsupported(content_type: str | None) -> None:
    with pytest.raises(UnsupportedType):
        parse(HEADER.encode(), content_type, max_values=10)
