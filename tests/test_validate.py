"""Catalog-driven validation: defaults, truncation, and each broken rule's code, message and path."""

import pytest

from mockserver.catalog import default_catalog
from mockserver.catalog.validate import validate
from mockserver.domain.errors import ApiError

CATALOG = default_catalog()


def check(model: str, input_: dict, parameters: dict | None = None):
    return validate(CATALOG.models[model], input_, parameters or {}, CATALOG.messages)


def test_defaults_fill_in_and_unknown_keys_stay():
    result = check("wanx-v1", {"prompt": "cat", "function": "leaked"}, {"is_async": True})
    assert result.task_failure is None
    assert result.parameters == {"is_async": True, "style": "<auto>", "size": "1024*1024", "n": 4,
                                 "ref_strength": 0.5, "ref_mode": "repaint"}
    assert result.input["function"] == "leaked"


def test_long_prompts_are_truncated_not_rejected():
    result = check("wanx-sketch-to-image-lite", {"prompt": "x" * 100, "sketch_image_url": "https://a/b.png"})
    assert result.input["prompt"] == "x" * 75
    assert result.task_failure is None


def test_missing_prompt_fails_the_task_as_captured():
    result = check("wanx-v1", {})
    assert (result.task_failure.code, result.task_failure.message) == ("InvalidParameter", "Field required: input.prompt")


def test_wanx_v1_size_message_is_the_documented_one():
    failure = check("wanx-v1", {"prompt": "c"}, {"size": "512*512"}).task_failure
    assert failure.message == "The size is not match the allowed size ['1024*1024', '720*1280', '1280*720']"


@pytest.mark.parametrize(
    ("model", "parameters", "message"),
    [
        ("wanx-v1", {"n": 5}, "Range of n should be [1, 4]"),
        ("wanx-v1", {"n": 0}, "Range of n should be [1, 4]"),
        ("wanx-v1", {"n": "2"}, "Input should be a valid integer: parameters.n"),
        ("wanx-v1", {"n": True}, "Input should be a valid integer: parameters.n"),
        ("wanx-v1", {"style": "<cubism>"}, "The style is invalid."),
        ("wanx-v1", {"ref_strength": 1.5}, "Range of ref_strength should be [0, 1]"),
        ("wanx-v1", {"seed": -1}, "Range of seed should be [0, 4294967290]"),
        ("wanx2.1-t2i-turbo", {"size": "1500*1024"},
         "The size is not match the allowed range: each side should be in [512, 1440]"),
        ("wanx2.1-t2i-turbo", {"size": "1024x1024"},
         "The size is not match the allowed range: each side should be in [512, 1440]"),
        ("wanx2.1-t2i-turbo", {"prompt_extend": "yes"}, "Input should be a valid boolean: parameters.prompt_extend"),
    ],
)
def test_broken_parameters_fail_the_task(model, parameters, message):
    failure = check(model, {"prompt": "c"}, parameters).task_failure
    assert failure is not None
    assert (failure.code, failure.message) == ("InvalidParameter", message)


def test_any_side_in_range_is_a_valid_free_size():
    assert check("wanx2.1-t2i-turbo", {"prompt": "c"}, {"size": "512*1440"}).task_failure is None


def test_sketch_colour_items_are_checked():
    ok = check("wanx-sketch-to-image-lite", {"prompt": "c", "sketch_image_url": "https://a/b.png"},
               {"sketch_color": [[0, 0, 0], [255, 10, 10]]})
    assert ok.task_failure is None
    bad = check("wanx-sketch-to-image-lite", {"prompt": "c", "sketch_image_url": "https://a/b.png"},
                {"sketch_color": [[0, 0]]})
    assert bad.task_failure.code == "InvalidParameter"


@pytest.mark.parametrize("url", ["https://example.com/草图.png", "ftp://a/b.png", "not a url", ""])
def test_bad_input_urls_are_invalid_url(url):
    failure = check("wanx-sketch-to-image-lite", {"prompt": "c", "sketch_image_url": url}).task_failure
    assert failure is not None
    assert failure.code == ("InvalidParameter" if url == "" else "InvalidURL")


def test_a_sync_rule_raises_at_once():
    from mockserver.catalog.schema import ModelEntry

    entry = ModelEntry.model_validate({
        "name": "m", "route": {"group": "g", "function": "f"},
        "parameters": {"n": {"type": "integer", "min": 1, "max": 1, "error": {"via": "sync"}}},
    })
    with pytest.raises(ApiError) as raised:
        validate(entry, {}, {"n": 2}, CATALOG.messages)
    assert (raised.value.code, raised.value.message) == ("InvalidParameter", "Range of n should be [1, 1]")


def test_a_list_default_is_each_tasks_own_copy():
    first = check("wanx-sketch-to-image-lite", {"prompt": "c", "sketch_image_url": "https://a/b.png"})
    second = check("wanx-sketch-to-image-lite", {"prompt": "c", "sketch_image_url": "https://a/b.png"})
    first.parameters["sketch_color"].append([1, 2, 3])
    assert second.parameters["sketch_color"] == []
    assert CATALOG.models["wanx-sketch-to-image-lite"].parameters["sketch_color"].default == []


def test_each_entry_is_checked_by_its_own_rules():
    """The per-entry work done once is keyed by the entry itself: a copy with other rules gets its own."""
    entry = CATALOG.models["wanx-v1"]
    assert "style" in validate(entry, {"prompt": "c"}, {}, CATALOG.messages).parameters
    bare = entry.model_copy(update={"parameters": {}})
    assert validate(bare, {"prompt": "c"}, {}, CATALOG.messages).parameters == {}
    assert "style" in validate(entry, {"prompt": "c"}, {}, CATALOG.messages).parameters


def test_what_a_task_keeps_shares_its_short_strings():
    """A million retained tasks hold one copy of each field name and short value (parsed apart, interned here)."""
    import json

    from mockserver.catalog.validate import kept

    entry = CATALOG.models["wanx-v1"]
    first, second = ({"size": json.loads('"1024*1024"'), "n": 2} for _ in range(2))
    assert first["size"] is not second["size"]
    kept_first, kept_second = kept(entry.parameters, first), kept(entry.parameters, second)
    assert kept_first == {"size": "1024*1024", "n": 2}
    assert kept_first["size"] is kept_second["size"]


def _rules(rule):
    yield rule
    for nested in (rule.properties or {}).values():
        yield from _rules(nested)
    if rule.items is not None:
        yield from _rules(rule.items)


def test_a_quick_yes_is_only_ever_for_a_value_the_full_check_keeps_as_it_is():
    """``_as_is`` lets a value skip the full check: it may say no to a good value, never yes to one the full check
    refuses or changes. Every rule of every catalog model, against values of every JSON kind around its bounds."""
    from mockserver.catalog.validate import _Broken, _as_is, _check

    rules = [rule for entry in default_catalog().served() for section in (entry.input, entry.parameters)
             for top in section.values() for rule in _rules(top)]
    quick_ones = 0
    for rule in rules:
        quick = _as_is(rule)
        if quick is None:
            continue
        quick_ones += 1
        assert not quick("")  # a required field refuses "" (in _check_field, which the quick yes skips)
        edges = [edge for edge in (rule.min, rule.max) if edge is not None]
        numbers = [0, 1, -1, 3, 2**70, 0.5, float("nan"), float("inf")] + [edge + step for edge in edges for step in (-1, -0.5, 0, 0.5, 1)]
        texts = ["", "a", "a cat", "x" * (rule.max_length or 10), "x" * ((rule.max_length or 10) + 1), *(rule.enum or []), *(rule.sizes or [])]
        values = [*numbers, *[int(n) for n in numbers if isinstance(n, float) and n == n and abs(n) != float("inf")],
                  *texts, True, False, None, [], {}, [1], {"a": 1}]
        for value in values:
            if not quick(value):
                continue
            try:
                kept_value = _check(rule, value)
            except _Broken as broken:
                raise AssertionError(f"{rule.type} rule: quick yes to {value!r}, the full check says {broken.kind}") from None
            assert kept_value is value, (rule.type, value)
    assert quick_ones > 50  # the strings, sizes, numbers and booleans of the catalog
