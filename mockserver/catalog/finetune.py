"""The shape of a fine-tune entry: a model trained by a job on ``/api/v1/fine-tunes``, not an image task.

Such an entry lives in ``contracts/models/`` with ``kind: fine-tune``; it has
no task route, input or output shape, only what a job needs: how many
training files it takes, its limits and its timing (training minutes).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .schema import Limits, Timing, _Strict


class TrainingFiles(_Strict):
    """How many entries ``training_file_ids`` holds (image URLs or uploaded file ids)."""

    min_items: int = 1
    max_items: int = 10
    source: str = "doc"


class FineTuneEntry(_Strict):
    """Everything the emulator knows about one fine-tunable model."""

    name: str
    title: str = ""
    kind: Literal["fine-tune"]
    group: str  # the job's `group` field (facechain)
    training_type: str = "sft"  # the job's `training_type` when the request names none
    training_files: TrainingFiles = TrainingFiles()
    limits: Limits = Limits()
    timing: Timing
    sources: list[str] = Field(default_factory=list)
    notes: str = ""
    example: dict[str, Any] = Field(default_factory=dict)  # a valid create body
