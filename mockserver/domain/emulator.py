"""The emulator's domain: submit, query, cancel and list, as the real service does them (the list's
window, filters and rows are in ``listing.py``).

This is the one place that combines the catalog, the accounts, the throttle,
the lanes and the store. The HTTP layer parses a request, calls one method
here and renders what comes back; it holds no behaviour of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..catalog import Catalog, ModelEntry, default_catalog
from ..catalog.validate import Failure, Validated, kept, validate
from ..faults.effects import Effects
from ..faults.injector import Faults
from ..faults.plan import shape
from ..faults.rules import Request
from ..inputs.service import FOUND_NOTHING, Inputs, Looked
from ..lifecycle.lanes import Lane
from ..lifecycle.planner import apply_timeout, draw_durations
from ..lifecycle.task import UNKNOWN, Outcome, Task
from ..lifecycle.view import task_output, unknown_output
from ..results.images import ResultImages
from ..results.urls import ResultSigner
from ..settings.config import Settings
from ..store import Store, open_store
from ..support.headers import HeaderLookup
from ..support.parsing import json_object
from ..uploads.service import Uploads
from . import account_state
from .accounts import Account, Accounts, _bearer
from .calls import call_answer
from .checks import answer
from .clock import Clock
from .errors import ApiError
from .finetunes import FineTuneJobs
from .journal import Journal, timeline
from .listing import Listing
from .metrics import Tally
from .sharing import Sharing, process_ids, url_secret

HOUR = 3600.0
_PURGE_EVERY = 512  # submits between sweeps of expired tasks


@dataclass(slots=True)
class Draft:
    """A submit that passed the synchronous checks and the throttle; no task exists yet."""

    account: Account
    entry: ModelEntry
    group: str
    function: str
    checked: Validated
    failure: Failure | None  # a worker-side check already broken: the inputs are not looked at
    directed: Effects | None  # the submit's in-band fault directives
    slots: int
    images: int  # how many images the task makes (from the checked fields)
    prompt: str | None
    key: str | None


class Emulator:
    """The DashScope task service, over one clock and one store."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        catalog: Catalog | None = None,
        store: Store | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.catalog = catalog or default_catalog()
        self.store: Store = store or open_store(self.settings.store, alone=self.settings.workers == 1)
        self.clock = clock or Clock(self.settings.clock, rate=self.settings.clock_rate, start=self.settings.clock_start)
        self.ids = process_ids(self.store, self.settings.seed)
        self.accounts = Accounts(self.settings)
        self.sign_with(url_secret(self.store, self.settings.url_secret).encode())
        self._submits = 0
        settings = self.settings
        self.faults = Faults(self.catalog.errors, settings.faults, settings.seed, settings.directives, settings.directive_header)
        self.sharing = Sharing(self.store, clock=self.clock, faults=self.faults.rules) if self.store.shared else None
        self.journal = Journal(settings.journal_size, Tally(settings.metrics_accounts, frozenset(self.catalog.models)))
        self.fine_tunes = FineTuneJobs(self.catalog, self.store, self.clock, self.ids, settings)

    def sign_with(self, secret: bytes) -> None:
        """Sign result URLs and upload policies with ``secret`` (a restored snapshot's keeps its URLs valid)."""
        self.signer = ResultSigner(secret)
        self.images = ResultImages(self.store, self.catalog, self.settings.image_cache_mb * 2**20, self.settings.label_font)
        self.uploads = Uploads(self.store, self.clock, self.ids, self.signer.secret, self.signer.access_key_id, self.settings)
        self.inputs = Inputs(self.settings, self.catalog.messages, self.uploads, self.images, self.signer, self.clock)

    def sync(self) -> None:
        """At the start of a request: catch up with the clock and fault rules other processes changed."""
        if self.sharing is not None:
            self.sharing.pull()

    def close(self) -> None:
        """Release the store (its file or connection)."""
        self.store.close()

    # -- accounts and limits ------------------------------------------------

    def authenticate(self, authorization: str | None) -> Account:
        return self.accounts.resolve(authorization)

    def _throttle(self, account: Account, operation: str, limit: int) -> None:
        key = f"{account.id}|{operation}"
        if not self.store.hit(key, limit, 1.0, self.clock.now()):
            raise ApiError("Throttling.RateQuota")

    def _limits(self, account: Account, entry: ModelEntry) -> tuple[int, int]:
        return account_state.limits(self.store.account_state(account.id, create=False), account, entry)

    def _request_limit(self, account: Account) -> int:
        return account_state.requests_per_second(
            self.store.account_state(account.id, create=False), account, self.settings.requests_per_second
        )

    def replan(self, account: Account) -> None:
        """Re-plan the account's queues whose concurrency changed, at once (a limit changed at run time)."""
        with self.store.transaction():
            now = self.clock.now()
            for (_, model), lane in self.store.lanes(account.id):
                slots = self._limits(account, self.catalog.models[model])[1]
                if lane.concurrency != slots:
                    self._replan(lane, account.id, model, now, slots)

    def _replan(self, lane: Lane, account: str, model: str, now: float, slots: int | None = None) -> None:
        """Re-plan the lane's waiting tasks (inside a transaction) and save what changed."""
        for task in lane.replan(now, self.store.queue(account, model, now), slots):
            self.store.save_task(task)
        self.store.save_lane(account, model, lane)

    def _charge(self, account: str, model: str, images: int) -> None:
        state = self.store.account_state(account)
        account_state.charge(state, model, images)
        self.store.save_account_state(account, state)

    # -- submit ---------------------------------------------------------------

    def prepare(
        self,
        account: Account,
        group: str,
        function: str,
        body: bytes,
        headers: HeaderLookup,
        service: str = "aigc",
        payload: dict[str, Any] | None = None,
    ) -> Draft:
        """Check a submit in the real service's order, up to what the worker checks; raise what the gateway answers.

        ``payload`` is ``body`` already parsed (the edge parses submits for fault matching), else it is parsed here.
        """
        if service != "aigc" and not self.catalog.serves_route(group, function, service):
            raise ApiError("NotFound")  # only the task namespace answers any path (with "url error")
        if payload is None:
            payload = json_object(body)
        entry = self._model(payload, group, function, service)
        asynchronous = headers.get("x-dashscope-async", "").strip().lower() == "enable"
        if entry.mode == "async" and not asynchronous:
            raise ApiError("AccessDenied", "sync_call")
        if entry.mode == "sync" and asynchronous:
            raise ApiError("AccessDenied", "async_call")
        input_ = payload.get("input")
        if input_ is None:
            if entry.input_required:
                raise ApiError("BadRequest.EmptyInput")
            input_ = {}
        if not isinstance(input_, dict):
            raise ApiError("BadRequest.IllegalInput")
        parameters = payload.get("parameters")
        if parameters is None:
            parameters = {}
        if not isinstance(parameters, dict):
            raise ApiError("InvalidParameter")
        input_, directed = self.faults.directed(input_, headers)
        with self.store.transaction():
            usage = self.store.account_state(account.id, create=False)
            rate, slots = account_state.limits(usage, account, entry)
            self._throttle(account, f"submit|{entry.name}", rate)
            checked = validate(entry, input_, parameters, self.catalog.messages)
            failure = checked.task_failure or self.uploads.unresolved(
                entry, checked.input, headers, account.id, self.catalog.messages["url"]["message"]
            )
            images = entry.image_count(checked.parameters, checked.input)
            self._free_tier(usage, account, entry, images)  # before any download
        prompt = input_.get("prompt")
        key = _bearer(headers.get("authorization")) or None
        return Draft(account, entry, group, function, checked, failure, directed, slots, images,
                     prompt if isinstance(prompt, str) else None, key)

    async def look(self, draft: Draft, base_url: str) -> Looked:
        """The worker's look at the input images (downloads them: the submit answer waits for it)."""
        looked = self.look_now(draft)
        if looked is not None:
            return looked
        return await self.inputs.look(draft.entry, draft.checked.input, draft.account.id, base_url)

    def look_now(self, draft: Draft) -> Looked | None:
        """:meth:`look`'s finding when it needs no download (None when it does)."""
        if draft.failure is not None:
            return Looked(draft.failure)
        return None if self.inputs.downloads(draft.entry, draft.checked.input) else FOUND_NOTHING

    def commit(self, draft: Draft, looked: Looked, request_id: str) -> Task:
        """Queue the task, with the failure the worker will report (if any) in its plan."""
        account = draft.account
        with self.store.transaction():
            usage = self.store.account_state(account.id, create=False)
            self._free_tier(usage, account, draft.entry, draft.images)  # again: another submit may have used it up
            effects = self._planned(draft)
            task = self._new_task(draft, request_id)
            task.lines = looked.lines
            if looked.failure is not None:
                task.failure = Outcome(looked.failure.code, looked.failure.message)
            if effects is not None:
                shape(task, effects, self.catalog.errors)
            self._plan(task, draft.entry, draft.slots)
            account_state.charge(usage, draft.entry.name, task.succeeded_images())
            self.store.save_account_state(account.id, usage)
            self.store.add_task(task)
            self._maybe_purge()
        return task

    def call(self, draft: Draft, looked: Looked) -> dict[str, Any]:
        """A synchronous model's answer (``mode: sync``): no task; what would fail one is the HTTP error."""
        failure = looked.failure
        if failure is not None:
            raise ApiError(failure.code, message=failure.message)
        with self.store.transaction():
            effects = self._planned(draft)
        return answer(draft.entry, draft.checked.input, effects)

    def _planned(self, draft: Draft) -> Effects | None:
        """The plan effects of the fault rules and the submit's directives (none armed, none asked: None at once)."""
        if draft.directed is None and not self.faults.rules.armed:
            return None
        request = Request("submit", draft.account.id, draft.key, draft.entry.name, draft.prompt)
        return self.faults.planned(request, draft.directed)

    def answer_call(self, task: Task, base_url: str) -> dict[str, Any]:
        """A synchronous generation's answer once its task has ended (``mockserver.domain.calls``)."""
        entry = self.catalog.calls.get(task.model) or self.catalog.models[task.model]
        return call_answer(task, entry, lambda t, i: self.result_url(t, i, base_url))

    def _free_tier(self, usage: account_state.AccountState, account: Account, entry: ModelEntry, images: int) -> None:
        """The 403 of a free-tier-only account whose free quota (``usage``: what it used) cannot cover this submit."""
        if account_state.refuses(usage, account, entry, images, self.settings.free_tier_check):
            raise ApiError("AllocationQuota.FreeTierOnly")

    def _model(self, payload: dict[str, Any], group: str, function: str, service: str) -> ModelEntry:
        name = payload.get("model")
        served = self.catalog.on_route(name, service, group, function) if type(name) is str else None
        if served is not None:
            return served
        if name is None or name == "":
            raise ApiError("BadRequest.EmptyModel")
        if not isinstance(name, str) or self.catalog.model(name) is None:
            if self.settings.unknown_model == "ModelNotFound":
                raise ApiError("ModelNotFound")
            raise ApiError("InvalidParameter", "model_not_exist")
        raise ApiError("InvalidParameter", "wrong_route")

    def _new_task(self, draft: Draft, request_id: str) -> Task:
        account, entry, images = draft.account, draft.entry, draft.images
        now = self.clock.now()
        task_id = self.ids.task_id()
        while self.ids.seeded and self.store.get_task(task_id) is not None:  # a seed set again mid-run repeats ids
            task_id = self.ids.task_id()  # (122 bits from the OS never do: no store read for them)
        pending, running = draw_durations(entry.timing, images, self.settings.speed, self.ids.derive(task_id))
        call = entry.mode == "sync"
        if call and self.clock.mode == "manual":
            pending = running = 0.0  # a synchronous call on a standing clock answers at once (decision)
        # By position, in the fields' order (each line names them): keywords cost twice the making of the task.
        return Task(
            task_id, account.id, account.api_key_id, account.uid,  # task_id, account, api_key_id, caller_uid
            entry.name, draft.group, draft.function, request_id,  # model, group, function, request_id
            kept(entry.input, draft.checked.input), kept(entry.parameters, draft.checked.parameters),  # input, parameters
            images, now, pending, running,  # image_count, submitted_at, pending_seconds, run_seconds
            call=call,
        )

    def _plan(self, task: Task, entry: ModelEntry, slots: int) -> None:
        apply_timeout(task, self.settings.task_timeout_hours * HOUR, self._timed_out)
        if task.call:  # a synchronous call waits for no queue of the model's tasks (decision)
            task.scheduled_at = task.submitted_at + task.pending_seconds
            task.ended_at = task.scheduled_at + task.run_seconds
            return
        now = self.clock.now()
        lane = self.store.lane(task.account, task.model, slots)
        if lane.concurrency != slots:  # a limit changed since the lane was made
            self._replan(lane, task.account, task.model, now, slots)
        lane.schedule(task, now)
        self.store.save_lane(task.account, task.model, lane)

    def _timed_out(self) -> Outcome:
        spec = self.catalog.errors["InternalError.Timeout"]
        return Outcome(spec.code, spec.message)

    def _maybe_purge(self) -> None:
        self._submits += 1
        if self._submits % _PURGE_EVERY == 0:
            # A task's result URLs may outlive its query answer: keep it until both are gone.
            kept = max(self.settings.retention_hours, self.settings.result_url_hours) * HOUR
            self.store.purge(self.clock.now() - kept)

    # -- query, cancel, list --------------------------------------------------

    def query(self, account: Account, task_id: str, base_url: str) -> dict[str, Any]:
        """``{"output": ..., "usage"?: ...}`` of the task as it stands now: O(1)."""
        task, status = self.poll(account, task_id)
        return self.answer(task_id, task, status, base_url)

    def poll(self, account: Account, task_id: str) -> tuple[Task | None, str]:
        """A query's throttle and look-up: the account's task and its status now (None and UNKNOWN if none)."""
        self._throttle(account, "query", self._request_limit(account))
        task = self._owned(account, task_id)
        if task is None:
            return None, UNKNOWN
        return task, task.status_at(self.clock.now(), self.settings.retention_hours * HOUR)

    def answer(self, task_id: str, task: Task | None, status: str, base_url: str) -> dict[str, Any]:
        """What a query answers for ``task`` in ``status`` (a :meth:`poll`'s); it depends on nothing else."""
        if task is None or status == UNKNOWN:
            return {"output": unknown_output(task_id)}
        entry = self.catalog.models[task.model]
        output, usage = task_output(task, status, entry, lambda t, i: self.result_url(t, i, base_url))
        if task.extra:
            output = {**output, **task.extra}
        return {"output": output} if usage is None else {"output": output, "usage": usage}

    def cancel(self, account: Account, task_id: str) -> None:
        """Cancel a PENDING task; anything else is the captured 400."""
        self._throttle(account, "cancel", self._request_limit(account))
        with self.store.transaction():
            task = self._owned(account, task_id)
            now = self.clock.now()
            if task is None or task.canceled_at is not None or now >= task.scheduled_at:
                raise ApiError("UnsupportedOperation", "cancel")
            task.canceled_at = now
            self.store.save_task(task)
            self._charge(account.id, task.model, -task.succeeded_images())
            slots = self._limits(account, self.catalog.models[task.model])[1]
            self._replan(self.store.lane(task.account, task.model, slots), task.account, task.model, now)

    def list_tasks(self, account: Account, query: Mapping[str, str]) -> dict[str, Any]:
        """One page of the account's tasks in a window of at most 24 hours, newest first (:mod:`.listing`)."""
        self._throttle(account, "list", self._request_limit(account))
        now = self.clock.now()
        listing = Listing.of(query, now)
        return listing.page(self.store, account.id, now, self.settings.retention_hours * HOUR)

    def _owned(self, account: Account, task_id: str) -> Task | None:
        task = self.store.get_task(task_id)
        return task if task is not None and task.account == account.id and not task.call else None

    # -- results --------------------------------------------------------------

    def result_url(self, task: Task, index: int, base_url: str) -> str:
        """The signed URL of image ``index``; it expires ``result_url_hours`` after the end."""
        expires = int(task.ended_at + self.settings.result_url_hours * HOUR)
        return self.signer.url(self.settings.public_url or base_url, self.images.name(task, index), expires)

    # -- control --------------------------------------------------------------

    def reset(self, account: str | None = None) -> None:
        """Forget tasks, uploads and requests (all, or one account's); a full reset also re-arms the fault rules."""
        with self.store.transaction():
            self.store.reset(account)
            if account is not None:
                self.uploads.forget(account)
        self.journal.clear(account)
        if account is None:
            self.faults.rules.clear(self.settings.faults)

    def timeline(self, task_id: str) -> list[dict[str, Any]] | None:
        """The task's requests and its state transitions so far, in time order; None when neither the store
        nor the journal has heard of the task."""
        task, entries = self.store.get_task(task_id), self.journal.select({"task_id": task_id})
        if task is None and not entries:
            return None
        return timeline(task, entries, self.clock.now())
