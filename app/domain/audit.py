"""Who made a change, as every revision records it."""

from dataclasses import dataclass
from typing import Any

from app.domain.keys import Principal


@dataclass(frozen=True, slots=True)
class Author:
    """The key (its id: names may repeat over time) and the request: the server's own id, which logs carry too,
    and the client's X-Request-ID, kept beside it and never instead of it."""

    key_id: int | None
    key_name: str
    request_id: str | None
    client_request_id: str | None = None

    @classmethod
    def of(cls, caller: Principal, *, request_id: str | None, client_request_id: str | None = None) -> "Author":
        return cls(key_id=caller.key_id, key_name=caller.name, request_id=request_id,
                   client_request_id=client_request_id)

    def columns(self) -> dict[str, Any]:
        """The revision columns that record it."""
        return {"key_id": self.key_id, "key_name": self.key_name, "request_id": self.request_id,
                "client_request_id": self.client_request_id}
