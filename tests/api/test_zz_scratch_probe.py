import httpx
from tests.conftest import Keys
from tests.api.attainment_helpers import *
from app.domain.periods import today_in_shanghai

async def test_probe(client, keys: Keys) -> None:
    h = keys.auth(keys.admin)
    r = await client.post(f"{API}/units", json={"code": "370211901", "name": "测试一中", "parent": HUANGDAO}, headers=h)
    r = await client.post(f"{API}/units", json={"code": "370211902", "name": "测试二中", "parent": HUANGDAO}, headers=h)
    await load_network_example(client, keys, years=(2018, 2019, 2020))
    await post_values(client, keys.huangdao, [rate(NETWORK, "370211901", "2019", 450, 500), rate(NETWORK, "370211902", "2020", 1, 2),
        value(OVERSIZED, "370211901", "2020S1", 5), value(OVERSIZED, "370211902", "2020S2", 3), value(OVERSIZED, HUANGDAO, "2019", 9),
        rate(PRESCHOOL, "370211901", "2021", 99, 100), rate(CARE_ROOM, "370211902", "2020", 3, 4)])
    await post_values(client, keys.admin, [value(FUNDING, CITY, f"2021Q{q}", 9e6) for q in (1,2,3)] + [value(FUNDING, CITY, "2020", 3e7)]
        + [value(PRACTICE_BASE, d, "2021S1" if False else "2021", 1) for d in DISTRICTS[:4]] + [value(OVERSIZED, SHINAN, "2020S1", 4)])
    r = await client.delete(f"{API}/measurements", params={"indicator": NETWORK, "unit": SHINAN, "period": "2019"}, headers=h)
    assert r.status_code == 200, r.text
    await post_values(client, keys.shinan, [rate(NETWORK, SHINAN, "2018", 70, 100)])
    for d in ("2019-06-01", "2020-03-01", "2020-07-15", "2020-12-31", "2021-01-01", "2021-05-01", "2021-08-01", "2021-12-31", "2022-03-01"):
        a = await get_report(client, keys, date=d)
        b = await get_report(client, keys, date=d, as_of=today_in_shanghai().isoformat())
        diffs = [(x["indicator"], x["unit_code"], k, x[k], y[k]) for x, y in zip(a["rows"], b["rows"]) for k in x if x[k] != y[k]]
        print("RES", d, len(a["rows"]), len(b["rows"]), diffs[:5])
