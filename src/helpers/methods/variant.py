"""What a results row measures. A variant is a frozen dataclass whose fields are its settings:
its name and its row key are derived from those fields, and every field is used to compute
its numbers (a test changes each field and checks that key and numbers both change).

A row key is the review, its data checksum, the split, the encoder's identity
(``helpers.core.results``) and ``variant.settings(config, review)``: every field of the variant —
heads, compositions and nested variants as their own settings — plus what it reads from the
sweep (``reads``: the phase-1 arguments, the reviews whose skills it composes with their data
checksums, the library whose model it runs). Nothing is typed beside the fields.

This module is the contract every variant keeps (``Variant``) and the round trip of settings to
JSON and back. The variants themselves: the study's in ``helpers.methods.variants``, the
composition of skills in ``helpers.methods.skills``, distilled students in
``helpers.methods.distilled``, the peers in ``helpers.methods.peers`` and notebook 08's candidates
in ``helpers.methods.beyond``. No torch at import.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from typing import TYPE_CHECKING, ClassVar

from ..core.config import SweepConfig

if TYPE_CHECKING:
    from ..models.flops import Flops, RowWork
    from .trial import Scored, Trial


def field_settings(obj, config: SweepConfig, review: str) -> dict:
    """Every field of a settings dataclass as plain JSON values; None (not applicable) is left
    out, and a field marked ``key=False`` is folded into ``reads`` by its owner."""
    out = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if value is None or f.metadata.get("key") is False:
            continue
        out[f.name] = _plain(value, config, review)
    return out


def _plain(value, config: SweepConfig, review: str):
    if isinstance(value, Variant):
        return {"variant": value.name, **value.settings(config, review)}
    if is_dataclass(value):
        return {"kind": value.kind, **field_settings(value, config, review)}
    if isinstance(value, tuple):
        return [_plain(v, config, review) for v in value]
    return value


def _hints(cls) -> dict:
    """A settings class's field annotations, resolved (the compositions' classes are imported only
    for type checking where they are used, so they are named here)."""
    import typing

    from ..models.compose import Hybrid, PeftMerge

    return typing.get_type_hints(cls, localns={"Hybrid": Hybrid, "PeftMerge": PeftMerge})


def _from_plain(value, annotation, config: SweepConfig):
    """A stored (JSON) value back as the field's type: the inverse of ``_plain``."""
    import typing

    options = [a for a in typing.get_args(annotation) if a is not type(None)] if typing.get_args(annotation) else []
    if isinstance(value, dict) and "variant" in value:
        inner = {k: v for k, v in value.items() if k != "variant"}
        for option in options or [annotation]:
            try:
                rebuilt = option.from_settings(inner, config)
            except (TypeError, ValueError):  # another class of the union: its fields do not fit
                continue
            if rebuilt.name == value["variant"]:
                return rebuilt
        raise ValueError(f"no variant among {options} is named {value['variant']!r}")
    if isinstance(value, dict) and "kind" in value:
        kinds = {getattr(o, "kind", None): o for o in options or [annotation]}
        if value["kind"] not in kinds:
            raise ValueError(f"stored settings of kind {value['kind']!r}, where {sorted(map(str, kinds))} fit")
        settings_class = kinds[value["kind"]]
        hints = _hints(settings_class)
        return settings_class(**{f.name: _from_plain(value.get(f.name), hints[f.name], config)
                                 for f in fields(settings_class)})
    if isinstance(value, list):
        return tuple(_from_plain(v, None, config) for v in value)
    return value


@dataclass(frozen=True)
class Variant:
    """A way to score a review's evaluation set from its 16 training records."""

    uses_encoder: ClassVar[bool] = True  # False: the numbers do not depend on the encoder (TF-IDF, ASReview)
    trains: ClassVar[bool] = False       # True: the numbers rest on phase 1 with the sweep's arguments
    reader_label: ClassVar[str | None] = None  # a reader's words for the class with its default settings

    @property
    def name(self) -> str:
        """The results table's ``variant`` column, derived from the fields."""
        raise NotImplementedError

    @property
    def label(self) -> str:
        """What a reader sees in legends, tables and prose (``plots.method_label``): the class's
        ``reader_label`` where it has its default settings, else the name (which says what differs)."""
        if self.reader_label is not None and self == type(self)():
            return self.reader_label
        return self.name

    def score(self, trial: Trial) -> Scored:
        raise NotImplementedError

    def reads(self, config: SweepConfig, review: str) -> dict:
        """What the numbers take from the sweep's settings beyond the key's own columns."""
        return {"training": config.training.identity()} if self.trains else {}

    def settings(self, config: SweepConfig, review: str) -> dict:
        """This variant's part of the row key: its fields and what it reads."""
        return {**field_settings(self, config, review), **self.reads(config, review)}

    @classmethod
    def from_settings(cls, stored: dict, config: SweepConfig) -> Variant:
        """The variant of this class whose ``settings`` are ``stored`` (a row's, read back from
        JSON): the inverse of ``settings``. Each field is read back by its annotation — nested
        settings by their ``kind``, nested variants by their name — and a field left out (it was
        None) is None again; what the variant reads from the sweep is not a field and is skipped."""
        hints = _hints(cls)
        values = {f.name: _from_plain(stored.get(f.name), hints[f.name], config)
                  for f in fields(cls) if f.metadata.get("key") is not False}
        return cls(**values)

    def flops(self, work: RowWork) -> Flops:
        """The counted FLOPs of screening one review × seed with this variant from scratch
        (``helpers.analysis.cost``), derived from its fields, what its row read and the split's token
        counts — or, for a variant that ``replays``, from what its replay recorded. Work without a
        count is "not measured" (NaN), never 0."""
        from ..models.flops import NOT_MEASURED

        return NOT_MEASURED

    @property
    def replays(self) -> bool:
        """Whether its FLOPs need its work re-run and watched (``replay``): sparse models and a
        library's own training loop, whose work no token count fixes."""
        return False

    def replay(self, trial: Trial) -> dict:
        """Re-run on ``trial`` with the work watched, returning what ``flops`` counts from (plain
        values and tables, stored as an artefact of the row) and, where the re-run reproduces the
        row's ranking, its ``awss``: the caller checks it equals the stored row's, so a count never
        describes another run than the one it is shown beside."""
        raise NotImplementedError(f"{self.name} counts its FLOPs without re-running")

    @property
    def architecture(self) -> str:
        """What its latency and memory depend on: variants that share one are timed once."""
        return self.name

    def stand_in(self, encoder, config: SweepConfig, *, calibration_texts: list[str]):
        """An encoder with this variant's architecture and number formats, its weights untrained (a
        fresh adapter, a student not distilled): latency and memory depend on shapes and formats,
        not on what was learned (notebook 05's footprints, ``bench.footprint_table``)."""
        raise ValueError(f"no stand-in for variant {self.name!r}: latency and memory are measured for Base, LoRA, "
                         "its 4-bit and Wanda versions and distilled students")
