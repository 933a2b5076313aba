import copy

import numpy as np
import pytest
import torch

from conftest import synthetic_texts
from helpers.compose import compose_adapters, delta_weights, peft_merge, svd_factors
from helpers.contrastive import TrainingArgs, with_lora
from helpers.encoder import load_encoder


def random_adapters(tiny_bert_dir, tmp_path, n, rank=4):
    enc = load_encoder(str(tiny_bert_dir), cache_dir=tmp_path)
    out = []
    for seed in range(n):
        a = with_lora(enc, TrainingArgs(rank=rank), seed=seed)
        g = torch.Generator().manual_seed(100 + seed)
        with torch.no_grad():
            for name, p in a.model.named_parameters():
                if "lora_B" in name:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.05)
        out.append(a)
    return out


def test_sqrt_split_equals_rank_r_svd_of_the_quantile(tiny_bert_dir, tmp_path):
    adapters = random_adapters(tiny_bert_dir, tmp_path, 5)
    hybrid = compose_adapters(adapters, quantile=0.75, rank=8, split="sqrt")
    deltas = [delta_weights(a.model) for a in adapters]
    got = delta_weights(hybrid.model)
    assert got.keys() == deltas[0].keys() and len(got) == 6  # key+value of the last 3 layers
    for name, d in got.items():
        q = np.quantile(np.stack([x[name].numpy() for x in deltas]).astype(np.float64), 0.75, axis=0)
        u, s, vh = np.linalg.svd(q, full_matrices=False)
        approx = (u[:, :8] * s[:8]) @ vh[:8]
        np.testing.assert_allclose(d.numpy(), approx, atol=1e-6)
        assert d.shape == deltas[0][name].shape
    m = dict(hybrid.model.named_modules())[next(iter(got))]
    assert m.lora_A["default"].weight.shape[0] == 8 and m.scaling["default"] == 1.0


def test_quantile_is_element_wise_on_a_hand_built_example():
    # three 2x2 "updates": the 0.5 quantile (median) is taken per entry, not per matrix
    stack = torch.tensor([[[1.0, 9.0], [5.0, 0.0]], [[3.0, 1.0], [4.0, 8.0]], [[2.0, 5.0], [6.0, 7.0]]])
    median = torch.quantile(stack, 0.5, dim=0)
    assert median.tolist() == [[2.0, 5.0], [5.0, 7.0]]
    b, a = svd_factors(median, rank=2, split="sqrt")
    torch.testing.assert_close(b @ a, median)
    b2, a2 = svd_factors(median, rank=2, split="both")  # S in both factors: U S^2 V^T
    u, s, vh = torch.linalg.svd(median)
    torch.testing.assert_close(b2 @ a2, (u * s**2) @ vh)


def test_composing_one_adapter_reproduces_it(tiny_bert_dir, tmp_path):
    (single,) = random_adapters(tiny_bert_dir, tmp_path, 1)
    hybrid = compose_adapters([single], quantile=0.75, rank=8)
    texts = synthetic_texts(5)
    for name, d in delta_weights(single.model).items():
        torch.testing.assert_close(delta_weights(hybrid.model)[name], d, atol=1e-6, rtol=1e-5)
    np.testing.assert_allclose(hybrid.embed(texts, progress=False), single.embed(texts, progress=False), atol=1e-5)


def test_hybrid_saves_and_loads_like_any_peft_adapter(tiny_bert_dir, tmp_path):
    from peft import PeftModel

    hybrid = compose_adapters(random_adapters(tiny_bert_dir, tmp_path, 3), rank=8)
    hybrid.model.save_pretrained(tmp_path / "hybrid")
    base = load_encoder(str(tiny_bert_dir), cache_dir=None)
    loaded = PeftModel.from_pretrained(base.model, tmp_path / "hybrid")
    for name, d in delta_weights(hybrid.model).items():
        torch.testing.assert_close(delta_weights(loaded)[name], d)


@pytest.mark.parametrize("kind", ["svd", "ties", "dare_ties", "cat"])
def test_peft_merges_run_and_differ_from_each_adapter(tiny_bert_dir, tmp_path, kind):
    adapters = random_adapters(tiny_bert_dir, tmp_path, 3)
    merged = peft_merge(adapters, kind)
    d = delta_weights(merged.model, "merged")
    assert d and all(torch.isfinite(v).all() for v in d.values())
    if kind == "cat":  # concatenation with weights 1/n is exactly the mean update
        mean = {k: sum(delta_weights(a.model)[k] for a in adapters) / 3 for k in d}
        for k in d:
            torch.testing.assert_close(d[k], mean[k], atol=1e-6, rtol=1e-4)
    assert merged.embed(synthetic_texts(3), progress=False).shape == (3, 128)


def test_composed_encoders_reuse_the_frozen_prefix_of_their_adapters(tiny_bert_dir, tmp_path, monkeypatch):
    adapters = random_adapters(tiny_bert_dir, tmp_path, 3)
    for a in adapters:
        a.prefix_layers = 1  # LoRA adapts the last 3 of the tiny BERT's 4 layers
    texts = synthetic_texts(6)
    adapters[0].embed(texts, progress=False)  # fills the prefix cache
    composed = [compose_adapters(adapters, rank=8), peft_merge(adapters, "ties")]
    references = []
    for enc in composed:
        uncached = copy.copy(enc)
        uncached.cache_dir, uncached.prefix_layers = None, 0
        references.append(uncached.embed(texts, progress=False))
    monkeypatch.setattr(type(adapters[0].bert().embeddings), "forward",
                        lambda *a, **k: pytest.fail("prefix recomputed"))
    for enc, reference in zip(composed, references):
        np.testing.assert_allclose(enc.embed(texts, progress=False), reference, atol=1e-5)


def test_dare_merge_is_reproducible_by_seed_and_leaves_global_rng_alone(tiny_bert_dir, tmp_path):
    adapters = random_adapters(tiny_bert_dir, tmp_path, 3)
    torch.manual_seed(7)
    expected_next = torch.rand(1)
    torch.manual_seed(7)
    first = delta_weights(peft_merge(adapters, "dare_ties", seed=1).model, "merged")
    assert torch.equal(torch.rand(1), expected_next)  # the caller's random stream is untouched
    again = delta_weights(peft_merge(adapters, "dare_ties", seed=1).model, "merged")
    other = delta_weights(peft_merge(adapters, "dare_ties", seed=2).model, "merged")
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first)
