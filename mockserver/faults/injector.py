"""The emulator's fault injector: admin rules plus in-band directives, asked once per request."""

from __future__ import annotations

from typing import Any

from ..catalog import ErrorCatalog
from ..domain.errors import ApiError
from ..support.headers import HeaderLookup
from .directives import MARK, parse, split_prompt
from .effects import Effects
from .rules import FaultRules, Request, Rule


class Faults:
    def __init__(self, errors: ErrorCatalog, rules: list[Rule], seed: int | None, directives: bool, header: str) -> None:
        self.rules = FaultRules(errors, rules, seed)
        self.errors = errors
        self.directives = directives
        self.header = header.lower()

    def directed(self, input_: dict[str, Any], headers: HeaderLookup) -> tuple[dict[str, Any], Effects | None]:
        """``(input with the directives stripped from its prompt, their effects)``; a bad directive is a 400."""
        if not self.directives:
            return input_, None
        items = ""
        prompt = input_.get("prompt")
        if isinstance(prompt, str):
            prompt, items = split_prompt(prompt)
            if items:
                input_ = {**input_, "prompt": prompt}
        header = headers.get(self.header, "")
        if not items and not header:  # nothing asked in band: the common case
            return input_, None
        try:
            directed = _combine(parse(items), parse(header))
            if directed is not None:
                directed.check(self.errors)
        except ValueError as error:  # a DirectiveError, or a code the catalog does not have
            raise ApiError("InvalidParameter", message=str(error)) from None
        return input_, directed

    def planned(self, request: Request, directed: Effects | None) -> Effects | None:
        """The plan effects for a submit the service accepts: the first firing rule's, under the directives'."""
        effects = _combine(self.rules.fire(request, plan=True), directed)
        return effects if effects is not None and effects.has_plan() else None

    def quiet(self, prompt: str | None, header: str | None) -> bool:
        """Whether :meth:`for_request` has nothing to do for a request with this prompt and directive header: no
        rule armed, nothing asked in band. The common case: a caller may skip building the :class:`Request`."""
        return not self.rules.armed and (not self.directives or (not header and (prompt is None or MARK not in prompt)))

    def for_request(self, request: Request, header: str | None) -> Effects | None:
        """The HTTP effects (a synchronous error, a network fault) for one DashScope request."""
        if self.quiet(request.prompt, header):
            return None  # nothing to parse, nothing to fire: answered at once
        directed = None
        if self.directives:
            items = ""
            if request.prompt is not None:
                prompt, items = split_prompt(request.prompt)
                if items:
                    request = _with_prompt(request, prompt)
            if items or header:
                try:
                    directed = _combine(parse(items), parse(header or ""))
                    if directed is not None:
                        directed.check(self.errors)
                except ValueError:  # a DirectiveError too: the submit itself refuses it with a 400
                    directed = None
        effects = _combine(self.rules.fire(request, plan=False), directed)
        return effects if effects is not None and effects.has_http() else None


def _combine(base: Effects | None, top: Effects | None) -> Effects | None:
    return top if base is None else base.merged(top)


def _with_prompt(request: Request, prompt: Any) -> Request:
    text = prompt if isinstance(prompt, str) else None
    return Request(request.route, request.account, request.key, request.model, text)
