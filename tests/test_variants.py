"""A variant is data: its name and key come from its fields, and every field is used — changing any
one changes both the row key and the numbers, never only one of them. Every variant class the
package defines is found by itself (``variant_classes``) and put through the same checks."""

from dataclasses import fields, is_dataclass, replace

import numpy as np
import pytest

from conftest import write_review
from helpers.methods.beyond import Fusion, LeaveOneOut, LoraCka
from helpers.models.compose import Hybrid, PeftMerge
from helpers.core.config import DistillArgs, SweepConfig, TrainingArgs
from helpers.methods.asreview_peers import ActiveLearning, AsreviewOneShot
from helpers.methods.lexical import TfidfLR
from helpers.methods.setfit_peer import Setfit
from helpers.methods.trial import Trial
from helpers.methods.distilled import Distilled
from helpers.methods.heads import LogisticHead, SvmHead
from helpers.methods.skills import ComposedSkills
from helpers.methods.variant import Variant, field_settings
from helpers.methods.variants import Base, Lora, LoraQuantized, LoraWanda

REVIEWS = ("nsaids", "adhd", "triptans")
FAST = TrainingArgs(n_positive=8, n_negative=8, epochs=1)
SKIP = object()  # a field whose change needs another field changed too (tested on its own below)
# a changed value for every field of every settings class: a field without one fails the test
CHANGED = {
    (LogisticHead, "C"): 0.01, (LogisticHead, "max_iter"): 1,
    (SvmHead, "C"): 0.01,
    (Lora, "changes"): (("learning_rate", 0.05),),
    (LoraQuantized, "bits"): 2, (LoraWanda, "sparsity"): 0.9,
    (Hybrid, "quantile"): 0.1, (Hybrid, "rank"): 1, (Hybrid, "split"): "both",
    (PeftMerge, "combination"): SKIP, (PeftMerge, "density"): 0.2, (PeftMerge, "svd_rank"): SKIP,
    (ComposedSkills, "reviews"): REVIEWS[:2],
    (TfidfLR, "ngram_range"): (1, 1), (TfidfLR, "sublinear_tf"): False,
    (Setfit, "num_iterations"): 2,
    (AsreviewOneShot, "model"): "elas_u3", (ActiveLearning, "model"): "elas_u3",
    (ActiveLearning, "features"): "embeddings",
    (Fusion, "kind"): "concat", (Fusion, "weight"): 4.0,
    (LeaveOneOut, "phase1"): True, (LoraCka, "n_layers"): 2, (LoraCka, "short_epochs"): 4,
    (Distilled, "layers"): 1, (Distilled, "teacher"): "base",
    (DistillArgs, "steps"): 1, (DistillArgs, "pairs"): 2, (DistillArgs, "learning_rate"): 1e-2, (DistillArgs, "seed"): 1,
}
VARIANTS = [Base(), Base(SvmHead()), Lora(), LoraQuantized(), LoraWanda(),
            ComposedSkills(Hybrid(), reviews=REVIEWS), ComposedSkills(PeftMerge("ties", density=0.5), reviews=REVIEWS),
            TfidfLR(), Setfit(), AsreviewOneShot(), ActiveLearning(), Fusion("rankavg", AsreviewOneShot(), Lora()),
            LeaveOneOut(), LoraCka(n_layers=1), Distilled(layers=2, distillation=DistillArgs(steps=2, pairs=4))]


def variant_classes() -> set[type]:
    """Every variant class the package defines: each subclass of ``Variant`` with a name of its own,
    found by walking the class tree once every module of ``helpers.methods`` is imported, so no list
    is kept by hand (not even of the modules)."""
    import importlib
    import pkgutil

    import helpers.methods

    for module in pkgutil.iter_modules(helpers.methods.__path__):
        importlib.import_module(f"helpers.methods.{module.name}")

    found, todo = set(), [Variant]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.name is not Variant.name:  # a shared base without a name of its own is no variant
                found.add(sub)
            todo.append(sub)
    return found


def test_every_variant_class_is_checked():
    missing = sorted(c.__name__ for c in variant_classes() - {type(v) for v in VARIANTS})
    assert not missing, f"variant classes without an example in VARIANTS (so unchecked): {missing}"


def changes(obj):
    """Every one-field change of a settings dataclass (nested ones changed field by field)."""
    for f in fields(obj):
        value = getattr(obj, f.name)
        if is_dataclass(value):
            for inner in changes(value):
                yield f"{f.name}.{inner[0]}", replace(obj, **{f.name: inner[1]})
            continue
        if (type(obj), f.name) not in CHANGED:
            raise AssertionError(f"{type(obj).__name__}.{f.name} has no changed value in CHANGED")
        new = CHANGED[(type(obj), f.name)]
        if new is not SKIP:
            yield f.name, replace(obj, **{f.name: new})


@pytest.fixture(scope="module")
def config(tiny_sentence_encoder_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("variants")
    import os

    os.environ["SLR_CACHE_DIR"] = str(folder / "cache")  # module scope: a fresh cache for these tests
    for k, slug in enumerate(REVIEWS):
        write_review(folder / "data", slug, n=48, n_pos=13, seed=k)
    yield SweepConfig(encoder=str(tiny_sentence_encoder_dir), training=FAST, data_dir=str(folder / "data"),
                      max_length=64)
    del os.environ["SLR_CACHE_DIR"]


def outcome(config, variant):
    trial = Trial(config, "nsaids", 0)
    scored = variant.score(trial)
    return trial.key(variant).hash, np.asarray(scored.scores), scored.extra


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{type(v).__name__}:{v.name}")
def test_changing_any_field_changes_the_key_and_the_numbers(config, variant):
    key, scores, extra = outcome(config, variant)
    for name, changed in changes(variant):
        new_key, new_scores, new_extra = outcome(config, changed)
        assert new_key != key, f"{variant.name}: {name} changed the numbers' settings but not the key"
        differ = new_scores.shape != scores.shape or not np.allclose(new_scores, scores, rtol=0, atol=1e-9) \
            or new_extra != extra  # e.g. CKA's per-layer change, recorded in the row
        assert differ, f"{variant.name}: {name} is in the key but changed no number"


@pytest.mark.parametrize("field,value", [("rank", 2), ("target_modules", ("query",)), ("last_n_layers", 1),
                                         ("lora_alpha", 32), ("lora_dropout", 0.3), ("n_positive", 4),
                                         ("n_negative", 4), ("epochs", 2), ("batch_size", 8), ("learning_rate", 0.05),
                                         ("temperature", 0.05), ("bf16", True), ("pairs", "all"), ("layers", (0,))])
def test_every_phase_1_argument_changes_the_key_and_the_numbers(config, field, value):
    assert {f.name for f in fields(TrainingArgs)} >= {field}
    key, scores, _ = outcome(config, Lora())
    new_key, new_scores, _ = outcome(replace(config, training=replace(FAST, **{field: value})), Lora())
    assert new_key != key and not np.allclose(new_scores, scores, rtol=0, atol=1e-9), field


def test_names_come_from_the_fields():
    assert [v.name for v in (Base(), Base(SvmHead()), Lora(SvmHead()), LoraQuantized(bits=8), LoraWanda(sparsity=0.3),
                             Lora(changes=(("learning_rate", 0.002),)), Lora(changes=(("pairs", "all"),)),
                             Lora(changes=(("layers", "all"),)), LeaveOneOut(phase1=True), LoraCka(n_layers=2),
                             Fusion("rankavg", TfidfLR(), Lora(), weight=1 / 3), ActiveLearning(features="embeddings"),
                             ComposedSkills(PeftMerge("svd", svd_rank=8), reviews=REVIEWS))] == [
        "base", "base+svm", "lora+svm", "lora+int8", "lora+wanda30", "lora-lr0.002", "lora-all-pairs",
        "lora-all-layers", "loo-hybrid-sqrt+phase1", "lora-cka2", "rankavg:tfidf+lora@0.333333", "al-embeddings",
        "peft-svd"]


def test_a_peft_merge_keys_only_the_fields_its_combination_uses(config):
    assert set(field_settings(PeftMerge("cat"), config, "nsaids")) == {"combination"}
    assert set(field_settings(PeftMerge("svd", svd_rank=8), config, "nsaids")) == {"combination", "svd_rank"}
    keys = {outcome(config, ComposedSkills(c, reviews=REVIEWS))[0]
            for c in (PeftMerge("cat"), PeftMerge("svd", svd_rank=8), PeftMerge("ties", density=0.5))}
    assert len(keys) == 3


def test_leave_one_out_names_the_reviews_it_composes_with_their_checksums(config, tmp_path):
    settings = LeaveOneOut().settings(config, "nsaids")
    assert [r for r, _ in settings["composed_from"]] == ["adhd", "triptans"]
    assert all(len(checksum) == 64 for _, checksum in settings["composed_from"])
    narrowed = LeaveOneOut().settings(replace(config, reviews=("nsaids", "adhd")), "nsaids")
    assert [r for r, _ in narrowed["composed_from"]] == ["adhd"]  # the run's reviews are the pool


@pytest.mark.parametrize("make,message", [
    (lambda: Lora(changes=(("learning_rte", 0.1),)), "Lora.changes names"),
    (lambda: Lora(changes=(("pairs", "All"),)), "TrainingArgs.pairs must be one of"),
    (lambda: LoraQuantized(bits=3), "LoraQuantized.bits must be 2, 4 or 8"),
    (lambda: LoraWanda(sparsity=1.0), r"LoraWanda.sparsity must be in \[0, 1\)"),
    (lambda: ComposedSkills(Hybrid(), reviews=()), "ComposedSkills needs"),
    (lambda: ActiveLearning(features="bert"), "ActiveLearning.features must be one of"),
    (lambda: Fusion(kind="max"), "Fusion needs kind"),
    (lambda: TfidfLR(head=SvmHead()), "TfidfLR's head is a logistic regression"),
    (lambda: LogisticHead(C=0), "LogisticHead needs C > 0"),
])
def test_bad_variant_settings_are_refused_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{type(v).__name__}:{v.name}")
def test_every_variant_counts_its_flops(config, variant, tmp_path):
    """Each variant answers for its own FLOPs (``Variant.flops``) from its row's stored settings —
    and, where no token count fixes its work, from a replay of its row (stored, checked to
    reproduce the row) — and every one is counted: none is left "not measured"."""
    import json

    import pandas as pd

    from helpers.analysis.cost import stored_replays
    from helpers.models.flops import FlopCounts, RowWork, SplitTokens
    from helpers.methods.trial import encoder_for

    split = SplitTokens(np.full(16, 20), np.full(32, 30), np.r_[np.ones(8, int), np.zeros(8, int)],
                             np.full(48, 25))
    settings = json.loads(json.dumps(variant.settings(config, "nsaids")))
    replayed = None
    if variant.replays:
        row = pd.Series(Trial(config, "nsaids", 0).record(variant))
        replays = stored_replays(config, encoder_for(config), folder=tmp_path)
        replayed = lambda v: replays(v, row)  # noqa: E731
    flops = variant.flops(RowWork("nsaids", 0, settings, FlopCounts(encoder_for(config)), lambda r, s: split, replayed))
    assert not flops.counted.startswith("not measured"), flops.counted
    assert flops.inference > 0 and flops.train >= 0 and 0 <= flops.teacher_pass <= flops.train
    assert 0 <= flops.sparse_train <= flops.train and 0 <= flops.sparse_inference <= flops.inference
    # phase 1 (its own, or the composed reviews') is counted wherever the row read phase 1's arguments
    assert (flops.train > 0) >= ("training" in json.dumps(settings)), variant.name
    if variant.replays:  # without its replay, a replaying variant says it is not measured, never 0
        alone = variant.flops(RowWork("nsaids", 0, settings, FlopCounts(encoder_for(config)), lambda r, s: split))
        assert "not measured" in alone.counted and np.isnan(alone.train + alone.inference), alone


@pytest.mark.parametrize("variant", VARIANTS + [Lora(changes=(("epochs", 2), ("pairs", "all"))), Lora(changes=(("layers", "all"),)),
                                                Distilled(teacher="none"), ComposedSkills(PeftMerge("svd", svd_rank=4), reviews=REVIEWS)],
                         ids=lambda v: f"{type(v).__name__}:{v.name}")
def test_a_variant_is_rebuilt_from_its_stored_settings(config, variant):
    import json

    stored = json.loads(json.dumps(variant.settings(config, "nsaids")))  # as a results row holds them
    rebuilt = type(variant).from_settings(stored, config)
    assert rebuilt == variant and rebuilt.settings(config, "nsaids") == variant.settings(config, "nsaids")
