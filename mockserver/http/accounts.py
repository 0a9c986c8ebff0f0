"""The control plane's accounts: limits, free-tier-only mode, quotas and usage at run time (``/__mock/account``).

The account is named in the query, as elsewhere on the control plane:
``?key=<an API key of it>`` or ``?account=<its id>``. A change is checked
whole before any of it applies, and a concurrency change re-plans the
account's queues at once.
"""

from __future__ import annotations

import copy

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..domain import account_state
from ..domain.accounts import Account
from .control import _bad, _emulator, _json
from .responses import json_response


def _account(request: Request) -> Account | Response:
    query = request.query_params
    if query.get("key"):
        return _emulator(request).authenticate(f"Bearer {query['key']}")
    if query.get("account"):
        return _emulator(request).accounts.named(query["account"])
    return _bad("name the account: ?key=<one of its API keys> or ?account=<its id>")


def _view(request: Request, account: Account) -> Response:
    emulator = _emulator(request)
    model = request.query_params.get("model")
    if model and model not in emulator.catalog.models:
        return _bad(f"unknown model {model!r}")
    entries = [emulator.catalog.models[model]] if model else emulator.catalog.models.values()
    state = emulator.store.account_state(account.id, create=False)
    return json_response(account_state.describe(state, account, entries, emulator.settings.requests_per_second))


async def account_get(request: Request) -> Response:
    account = _account(request)
    return account if isinstance(account, Response) else _view(request, account)


async def account_patch(request: Request) -> Response:
    account = _account(request)
    if isinstance(account, Response):
        return account
    data = await _json(request)
    if data is None:
        return _bad("the body must be a JSON object")
    emulator = _emulator(request)
    try:
        change = account_state.parse_change(data)
        with emulator.store.transaction():
            state = emulator.store.account_state(account.id)
            account_state.apply(copy.deepcopy(state), account, change, emulator.catalog.models)  # all or nothing
            account_state.apply(state, account, change, emulator.catalog.models)
            emulator.store.save_account_state(account.id, state)
    except ValueError as error:
        return _bad(str(error))
    emulator.replan(account)
    return _view(request, account)


async def usage_clear(request: Request) -> Response:
    """Forget the images used (of one ``model``, or all): the free quota is whole again."""
    account = _account(request)
    if isinstance(account, Response):
        return account
    emulator = _emulator(request)
    model = request.query_params.get("model")
    with emulator.store.transaction():
        state = emulator.store.account_state(account.id, create=False)
        if model:
            state.used.pop(model, None)
        else:
            state.used.clear()
        emulator.store.save_account_state(account.id, state)
    return _view(request, account)


routes: list[Route] = [
    Route("/__mock/account", account_get, methods=["GET"]),
    Route("/__mock/account", account_patch, methods=["PATCH"]),
    Route("/__mock/account/usage", usage_clear, methods=["DELETE"]),
]
