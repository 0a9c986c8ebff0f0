"""The catalog itself: every entry loads against the schema and names only real error codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import contracts
from mockserver.catalog import Catalog, ModelEntry
from mockserver.catalog.finetune import FineTuneEntry
from mockserver.catalog.validate import validate

CATALOG = Catalog.load()
MODEL_FILES = sorted((contracts.HERE / "models").glob("*.yaml"))

# Every model of the spec's section 10 that the catalog must know (facechain-facedetect is the synchronous
# one, on services/vision; facechain-finetune is a /fine-tunes job, a `kind: fine-tune` entry).
SECTION_10 = [
    "wanx-v1", "wanx-sketch-to-image-lite", "wanx-background-generation-v2", "wanx-x-painting",
    "wanx-style-cosplay-v1", "wanx-style-repaint-v1", "wanx-virtualmodel", "virtualmodel-v2", "shoemodel-v1",
    "image-out-painting", "image-instance-segmentation", "image-erase-completion", "wanx-poster-generation-v1",
    "wordart-texture", "wordart-semantic", "wordart-surnames", "stable-diffusion-xl", "stable-diffusion-v1.5",
    "stable-diffusion-3.5-large", "stable-diffusion-3.5-large-turbo", "flux-schnell", "flux-dev", "flux-merged",
    "wanx2.1-t2i-turbo", "wanx2.1-t2i-plus", "wanx2.0-t2i-turbo", "wan2.2-t2i-flash", "wan2.2-t2i-plus",
    "wan2.5-t2i-preview", "wanx2.1-imageedit", "qwen-image", "qwen-image-plus", "wan2.6-t2i", "wan2.6-image",
    "facechain-generation", "facechain-facedetect", "facechain-finetune",
    "qwen-mt-image",  # beyond section 10: captured 2026-06 (issue 15)
]

# Issue 14: the synchronous image route's models and the video families on the task API.
ISSUE_14 = [
    "qwen-image-max", "z-image-turbo", "qwen-image-edit", "qwen-image-edit-plus", "qwen-image-edit-max",
    "qwen-image-2.0-pro", "qwen-image-2.0",
    "wanx2.1-t2v-turbo", "wanx2.1-t2v-plus", "wan2.2-t2v-plus", "wan2.5-t2v-preview", "wan2.6-t2v",
    "wanx2.1-i2v-turbo", "wanx2.1-i2v-plus", "wan2.2-i2v-plus", "wan2.2-i2v-flash", "wan2.5-i2v-preview", "wan2.6-i2v",
    "wanx2.1-kf2v-plus", "wan2.2-kf2v-flash", "wan2.7-t2v", "wan2.7-i2v",
    "wanx2.1-vace-plus", "emo-v1", "emo-detect-v1", "wan2.2-animate-move", "wan2.2-animate-mix", "videoretalk",
]


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: p.stem)
def test_entry_loads_and_is_named_after_its_file(path: Path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    entry = (FineTuneEntry if data.get("kind") == "fine-tune" else ModelEntry).model_validate(data)
    assert entry.name == path.stem
    assert entry.sources, "every entry says where its facts come from"


def test_schema_rejects_a_typo():
    data = yaml.safe_load(MODEL_FILES[0].read_text(encoding="utf-8"))
    data["parameters"] = {"n": {"type": "integer", "maximum": 4}}
    with pytest.raises(ValueError):
        ModelEntry.model_validate(data)


def test_every_model_of_section_10_is_in_the_catalog():
    assert sorted(SECTION_10 + ISSUE_14) == sorted([*CATALOG.models, *CATALOG.fine_tunes])


def _rules(rules):
    for rule in rules.values():
        yield rule
        if rule.items is not None:
            yield from _rules({"item": rule.items})
        if rule.properties:
            yield from _rules(rule.properties)


@pytest.mark.parametrize("entry", CATALOG.models.values(), ids=lambda e: e.name)
def test_error_codes_named_by_an_entry_exist(entry: ModelEntry):
    for rule in _rules({**entry.input, **entry.parameters}):
        if rule.error.code is not None:
            assert rule.error.code in CATALOG.errors


def test_default_rule_codes_exist_and_every_rule_kind_has_a_message():
    for kind, default in CATALOG.messages.items():
        assert default["code"] in CATALOG.errors, kind
        assert default["message"]


@pytest.mark.parametrize("entry", CATALOG.models.values(), ids=lambda e: e.name)
def test_the_example_is_valid_and_every_fact_has_a_source(entry: ModelEntry):
    checked = validate(entry, entry.example.get("input", {}), entry.example.get("parameters", {}), CATALOG.messages)
    assert checked.task_failure is None
    for rule in _rules({**entry.input, **entry.parameters}):
        assert re.match(r"^(doc|captured|sdk|code|decision)", rule.source)
    assert re.match(r"^(doc|captured|sdk|code|decision)", entry.billing.source)
