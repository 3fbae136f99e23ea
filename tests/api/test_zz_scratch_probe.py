import httpx
from tests.conftest import Keys

async def test_probe(app_ctx, keys: Keys) -> None:
    h = keys.auth(keys.bureau)
    t = httpx.ASGITransport(app=app_ctx, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=t, base_url="http://x") as client:
        for p in ({"date": "9999-12-31"}, {"date": "9999-01-01"}, {"as_of": "9999-12-31"}, {"as_of": "9999-12-31T23:59:59-08:00"},
                  {"as_of": "0001-01-01T00:00:00+08:00"}, {"as_of": "0001-01-01"}, {"as_of": "2021-03-01T12:00:00 08:00"},
                  {"date": "2021-W01-1"}, {"as_of": "2021-03-01T25:00:00Z"}, {"as_of": "２０２１-03-01"}, {"date": "２０２１-03-01"}):
            for path in ("/api/v1/attainment", "/api/v1/attainment/summary"):
                r = await client.get(path, params=p, headers=h)
                print("RES", path, p, r.status_code, r.text[:150] if r.status_code != 200 else len(r.content))
