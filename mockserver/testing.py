"""The emulator in tests: a server on a free port, an in-process app, and an admin client that reads well.

``with serve() as mock: ...`` runs a real emulator for a block, in pytest or
not; :class:`InProcess` is the app behind httpx's ASGI transport. The pytest
fixtures built on these live in :mod:`mockserver.pytest_plugin`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

import httpx

from .domain.emulator import Emulator
from .http.app import create_app
from .server.serving import Background, listen, url_of
from .settings.config import Settings

API_KEY = "sk-dashscope-mock"
DEFAULTS: dict[str, Any] = {"speed": float("inf")}  # tasks end at once unless a fault or directive says otherwise


def _with_defaults(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings with the testing defaults under them.

    With a running clock tasks end at once (``speed: inf``). A manual clock
    is asked for to watch tasks move as the test advances it, so it gets the
    realistic durations (``speed: 1``, wanx-v1 n=4 ~31 s) unless ``speed`` is given.
    """
    defaults = {**DEFAULTS, "speed": 1.0} if settings.get("clock") == "manual" else DEFAULTS
    return {**defaults, **settings}
_Pick = Callable[[Any], Any]


class AdminError(RuntimeError):
    """The control plane refused a call (a bad rule, say); the message is its answer."""


class _Calls:
    """Every admin call, as (method, path, body, what to keep of the answer); subclasses send them."""

    def _call(self, method: str, path: str, *, json: Any = None, params: Any = None, pick: _Pick | None = None) -> Any:
        raise NotImplementedError

    # -- faults -------------------------------------------------------------------

    def add_rule(self, **rule: Any) -> Any:
        """Any rule of ``docs/control-plane.md``; returns it as the emulator armed it."""
        return self._call("POST", "/__mock/faults", json=rule, pick=lambda body: body["rules"][0])

    def fail_next(self, code: str = "InternalError", n: int | None = 1, *, message: str | None = None,
                  variant: str | None = None, **match: Any) -> Any:
        """The next ``n`` submitted tasks (None: all) end FAILED with ``code``."""
        failure = {"code": code, "message": message, "variant": variant}
        return self.add_rule(fail=_set(failure), count=n, match=_set(match))

    def partial(self, failed: int, codes: list[str] | None = None, n: int | None = 1, **match: Any) -> Any:
        """In the next ``n`` tasks, the last ``failed`` images fail (DataInspectionFailed by default)."""
        return self.add_rule(partial=_set({"failed": failed, "codes": codes}), count=n, match=_set(match))

    def timing(self, *, pending: float | None = None, running: float | None = None, stuck: bool = False,
               n: int | None = 1, **match: Any) -> Any:
        """Emulated seconds PENDING and RUNNING for the next ``n`` tasks; ``stuck`` runs into the timeout."""
        return self.add_rule(**_set({"pending": pending, "running": running}), stuck=stuck, count=n, match=_set(match))

    def throttle(self, route: str = "submit", n: int | None = 1, *, code: str = "Throttling.RateQuota",
                 retry_after: int | None = None, **match: Any) -> Any:
        """The next ``n`` calls of ``route`` get a 429."""
        return self.http_error(code, route=route, n=n, retry_after=retry_after, **match)

    def http_error(self, code: str, route: str | None = None, n: int | None = 1, *, status: int | None = None,
                   retry_after: int | None = None, **match: Any) -> Any:
        """The next ``n`` calls (of ``route``, or any) answer the catalog's ``code`` error."""
        http = _set({"code": code, "status": status, "retry_after": retry_after})
        return self.add_rule(http=http, count=n, match=_set({"route": route, **match}))

    def network(self, kind: str, route: str | None = None, n: int | None = 1, *, seconds: float = 0,
                **match: Any) -> Any:
        """``reset``, ``empty``, ``truncate`` or ``stall`` (``seconds`` of wall time) the next ``n`` calls."""
        return self.add_rule(network={"kind": kind, "seconds": seconds}, count=n, match=_set({"route": route, **match}))

    def extra(self, fields: dict[str, Any], n: int | None = None, **match: Any) -> Any:
        """Tasks show these extra output fields, as a future API version might add."""
        return self.add_rule(extra=fields, count=n, match=_set(match))

    def faults(self) -> Any:
        return self._call("GET", "/__mock/faults", pick=lambda body: body["rules"])

    def clear_faults(self) -> Any:
        return self._call("DELETE", "/__mock/faults")

    # -- clock, seed, reset ---------------------------------------------------------------

    def advance(self, seconds: float = 0, *, minutes: float = 0, hours: float = 0, days: float = 0) -> Any:
        """Move the emulator's clock forward; returns its new time (epoch seconds)."""
        total = seconds + 60 * minutes + 3600 * hours + 86400 * days
        return self._call("POST", "/__mock/clock/advance", json={"seconds": total}, pick=lambda body: body["now"])

    def set_clock(self, epoch_seconds: float) -> Any:
        return self._call("POST", "/__mock/clock/set", json={"time": epoch_seconds}, pick=lambda body: body["now"])

    def freeze(self) -> Any:
        return self._call("POST", "/__mock/clock/freeze")

    def resume(self, rate: float | None = None) -> Any:
        return self._call("POST", "/__mock/clock/resume", json=_set({"rate": rate}))

    def now(self) -> Any:
        return self._call("GET", "/__mock/clock", pick=lambda body: body["now"])

    def seed(self, seed: int) -> Any:
        return self._call("POST", "/__mock/seed", json={"seed": seed})

    def reset(self, *, key: str | None = None, account: str | None = None) -> Any:
        """Forget everything (faults back to the config's), or one account's tasks and requests."""
        return self._call("POST", "/__mock/reset", json=_set({"key": key, "account": account}))

    # -- accounts: limits, free tier, usage --------------------------------------------------------

    def account(self, *, key: str | None = None, account: str | None = None, model: str | None = None) -> Any:
        """The account's effective limits, free quotas and usage (of every model, or ``model``)."""
        return self._call("GET", "/__mock/account", params=_set({"key": key, "account": account, "model": model}))

    def set_account(self, *, key: str | None = None, account: str | None = None, **change: Any) -> Any:
        """``PATCH /__mock/account``: ``free_tier_only``, ``requests_per_second``, ``models={name: {...}}``."""
        return self._call("PATCH", "/__mock/account", params=_set({"key": key, "account": account}), json=change)

    def limits(self, model: str = "*", *, key: str | None = None, account: str | None = None,
               concurrency: int | None = None, submit_per_second: int | None = None,
               requests_per_second: int | None = None) -> Any:
        """Change the account's limits now; a concurrency change re-plans its queue at once."""
        limits = _set({"concurrency": concurrency, "submit_per_second": submit_per_second})
        change = _set({"requests_per_second": requests_per_second, "models": {model: limits} if limits else None})
        return self.set_account(key=key, account=account, **change)

    def free_tier_only(self, model: str | None = None, *, key: str | None = None, account: str | None = None,
                       remaining: int | None = None, free_quota: int | None = None, enabled: bool = True) -> Any:
        """Switch free-tier-only mode; with ``model``, also set its free quota and how many images remain."""
        quota = _set({"remaining": remaining, "free_quota": free_quota})
        if quota and model is None:
            raise ValueError("remaining and free_quota are per model: name the model")
        return self.set_account(key=key, account=account, free_tier_only=enabled,
                                **({"models": {model: quota}} if quota else {}))

    def usage(self, model: str, *, key: str | None = None, account: str | None = None) -> Any:
        """``{"free_quota", "used", "remaining"}`` of one model."""
        def pick(body: Any) -> Any:
            return {name: body["models"][model][name] for name in ("free_quota", "used", "remaining")}

        return self._call("GET", "/__mock/account", params=_set({"key": key, "account": account, "model": model}),
                          pick=pick)

    def reset_usage(self, model: str | None = None, *, key: str | None = None, account: str | None = None) -> Any:
        """Forget the images used (of ``model``, or all): the free quota is whole again."""
        return self._call("DELETE", "/__mock/account/usage", params=_set({"key": key, "account": account, "model": model}))

    # -- state ------------------------------------------------------------------------------------

    def snapshot(self) -> Any:
        """The emulator's whole state as a JSON-ready document (``GET /__mock/state``)."""
        return self._call("GET", "/__mock/state")

    def restore(self, document: Any) -> Any:
        """Put back a :meth:`snapshot` (all or nothing); returns what was restored."""
        return self._call("PUT", "/__mock/state", json=document)

    # -- journal ------------------------------------------------------------------------------

    def requests(self, **filters: Any) -> Any:
        """Journal entries, oldest first; filter on task_id, key, account, route, method, status, ..."""
        return self._call("GET", "/__mock/requests", params=_set(filters), pick=lambda body: body["requests"])

    def count(self, **filters: Any) -> Any:
        return self._call("GET", "/__mock/requests/count", params=_set(filters), pick=lambda body: body["count"])

    def timeline(self, task_id: str) -> Any:
        """The task's submit, polls (with the state each saw), throttled calls and transitions."""
        return self._call("GET", f"/__mock/tasks/{task_id}/timeline", pick=lambda body: body["timeline"])


class Admin(_Calls):
    """The admin calls over a synchronous httpx client."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def _call(self, method: str, path: str, *, json: Any = None, params: Any = None, pick: _Pick | None = None) -> Any:
        return _answer(self.client.request(method, path, json=json, params=params), pick)


class AsyncAdmin(_Calls):
    """The same calls, awaited: ``await app.admin.fail_next()``."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def _call(self, method: str, path: str, *, json: Any = None, params: Any = None,
                    pick: _Pick | None = None) -> Any:
        return _answer(await self.client.request(method, path, json=json, params=params), pick)


class MockServer(Admin):
    """A real emulator on loopback (uvicorn in a thread, a free port), with the admin calls."""

    def __init__(self, **settings: Any) -> None:
        values = _with_defaults({"host": "127.0.0.1", "port": 0, **settings})
        if values.get("workers", 1) != 1:
            raise ValueError("MockServer serves from one thread of this process: run `dashscope-mock serve --workers N` for workers")
        self.emulator = Emulator(Settings(**values))
        sock = listen(self.emulator.settings.host, self.emulator.settings.port)
        self.url = url_of(sock)
        self.base_url = f"{self.url}/api/v1"  # the value of DASHSCOPE_HTTP_BASE_URL
        self._background = Background(create_app(emulator=self.emulator), sock, self.emulator.settings)
        super().__init__(httpx.Client(base_url=self.url, timeout=30))

    def stop(self) -> None:
        self.client.close()
        self._background.stop()
        self.emulator.close()

    def __enter__(self) -> "MockServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def serve(**settings: Any) -> Iterator[MockServer]:
    """``with serve() as mock:`` an emulator for a block, outside pytest too."""
    with MockServer(**settings) as server:
        yield server


class InProcess:
    """The app in this process, reached through httpx's ASGI transport: no socket, no thread.

    Network faults raise :class:`mockserver.http.edge.NetworkFault` in the client.
    """

    base = "http://dashscope-mock"

    def __init__(self, **settings: Any) -> None:
        self.emulator = Emulator(Settings(**_with_defaults(settings)))
        self.app = create_app(emulator=self.emulator)
        self.base_url = f"{self.base}/api/v1"
        self.admin = AsyncAdmin(self.client())

    def client(self, api_key: str | None = API_KEY, **kwargs: Any) -> httpx.AsyncClient:
        """An AsyncClient on the app, with ``Authorization: Bearer <api_key>`` unless None."""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=self.base,
                                 headers={**headers, **kwargs.pop("headers", {})}, **kwargs)


def _set(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _answer(response: httpx.Response, pick: _Pick | None) -> Any:
    if response.status_code >= 400:
        raise AdminError(f"{response.status_code}: {response.text}")
    body = response.json()
    return pick(body) if pick is not None else body
