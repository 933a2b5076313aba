"""Distillation: the student has the layers asked for and fewer FLOPs, distilling lowers its loss,
a seed gives the same student, its cache key holds the teacher's, and the loss is
sentence-transformers' CosineSimilarityLoss."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import synthetic_texts, write_review
from helpers.models.flops import count_flops, distillation_cost, distillation_flops, forward_cost
from helpers.core.config import DistillArgs, SweepConfig, TrainingArgs
from helpers.models.distill import cosine_loss, distill, kept_layers, student_of
from helpers.models.encoder import load_encoder
from helpers.methods.trial import Trial
from helpers.methods.distilled import Distilled


@pytest.fixture
def enc(tiny_sentence_encoder_dir, tmp_path):
    return load_encoder(str(tiny_sentence_encoder_dir), cache_dir=tmp_path)


def test_the_student_keeps_every_other_layer_and_costs_fewer_flops(enc):
    assert kept_layers(6, 3) == [0, 2, 4] and kept_layers(4, 2) == [0, 2] and kept_layers(4, 4) == [0, 1, 2, 3]
    student = student_of(enc, 2)
    assert student.n_layers == 2 and len(student.model.encoder.layer) == 2 and enc.n_layers == 4
    torch.testing.assert_close(student.model.encoder.layer[1].attention.self.query.weight,
                               enc.model.encoder.layer[2].attention.self.query.weight)
    for length in (32, 128):
        assert forward_cost(student)(length) < 0.6 * forward_cost(enc)(length)


def test_distillation_flops_equal_counting_the_real_distillation(enc):
    texts = synthetic_texts(30, seed=4)
    student = replace(student_of(enc, 2), cache_dir=None)
    args = DistillArgs(steps=4, pairs=5)
    teacher = enc.embed(texts, progress=False)
    counted = count_flops(lambda: distill(student, teacher, texts, args=args, teacher_fingerprint="t",
                                               progress=False))
    lengths = [len(ids) for ids in enc.tokenizer(texts)["input_ids"]]
    derived = distillation_flops(distillation_cost(student), lengths, args, max_length=enc.max_length)
    assert derived == pytest.approx(counted, rel=1e-9)


def test_the_loss_is_sentence_transformers_cosine_similarity_loss():
    from sentence_transformers.losses import CosineSimilarityLoss

    rng = torch.Generator().manual_seed(0)
    left, right, target = torch.randn(8, 5, generator=rng), torch.randn(8, 5, generator=rng), torch.rand(8, generator=rng)

    class Given(torch.nn.Module):  # a "model" returning the embeddings it is handed
        def forward(self, features):
            return {"sentence_embedding": features["x"]}

    theirs = CosineSimilarityLoss(Given())([{"x": left}, {"x": right}], target)
    assert float(cosine_loss(left, right, target)) == pytest.approx(float(theirs), rel=1e-6)


def test_distilling_lowers_the_loss_the_seed_fixes_the_student_and_the_key_holds_the_teacher(enc, tmp_path):
    texts = synthetic_texts(40, seed=2)
    teacher = enc.embed(texts, progress=False)
    student = student_of(enc, 2)
    args = DistillArgs(steps=30, pairs=8, learning_rate=1e-3)
    first, log = distill(student, teacher, texts, args=args, teacher_fingerprint="t1", progress=False)
    assert np.mean(log["losses"][-5:]) < np.mean(log["losses"][:5])
    uncached = replace(student, cache_dir=None)
    again, _ = distill(uncached, teacher, texts, args=args, teacher_fingerprint="t1", progress=False)
    np.testing.assert_allclose(again.embed(texts[:5], progress=False), first.embed(texts[:5], progress=False), atol=1e-6)
    assert list((tmp_path / "students").iterdir())
    other, _ = distill(student, teacher[::-1].copy(), texts, args=args, teacher_fingerprint="t2", progress=False)
    assert len(list((tmp_path / "students").iterdir())) == 2  # another teacher, another entry
    assert not np.allclose(other.embed(texts[:5], progress=False), first.embed(texts[:5], progress=False))


def test_distilled_variants_score_a_review_and_the_base_student_serves_every_seed(tiny_sentence_encoder_dir, tmp_path,
                                                                                  monkeypatch):
    monkeypatch.setenv("SLR_CACHE_DIR", str(tmp_path / "cache"))
    write_review(tmp_path / "data", "nsaids", n=50, n_pos=12, seed=0)
    config = SweepConfig(encoder=str(tiny_sentence_encoder_dir), training=TrainingArgs(n_positive=8, n_negative=8, epochs=1),
                         data_dir=str(tmp_path / "data"))
    small = DistillArgs(steps=3, pairs=4)
    for variant in (Distilled(layers=2, teacher="lora", distillation=small), Distilled(layers=2, teacher="none"),
                    Distilled(layers=2, teacher="base", distillation=small)):
        record = Trial(config, "nsaids", 0).record(variant)
        assert record["variant"] == variant.name and -1 <= record["awss"] <= 1 and record["student_layers"] == 2
    Trial(config, "nsaids", 1).record(Distilled(layers=2, teacher="base", distillation=small))
    assert len(list((tmp_path / "cache" / "students").iterdir())) == 2  # lora seed 0; base once for both seeds
    with pytest.raises(ValueError, match="Distilled: distillation settings go with a teacher"):
        Distilled(teacher="none", distillation=small)
