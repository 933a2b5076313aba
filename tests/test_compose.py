from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import synthetic_texts
from helpers.models.compose import Hybrid, PeftMerge, compose_adapters, compositions, delta_weights
from helpers.core.config import TrainingArgs
from helpers.models.contrastive import with_lora
from helpers.models.encoder import load_encoder


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


def rank_one_adapters(tiny_bert_dir, tmp_path, factors, u, v):
    """Adapters whose every update is ΔW_i = scaling · c_i · u vᵀ (hand-built, known exactly)."""
    enc = load_encoder(str(tiny_bert_dir), cache_dir=tmp_path)
    out = []
    for c in factors:
        a = with_lora(enc, TrainingArgs(rank=4), seed=0)
        with torch.no_grad():
            for name, p in a.model.named_parameters():
                if "lora_A" in name:
                    p.zero_()
                    p[0] = v
                elif "lora_B" in name:
                    p.zero_()
                    p[:, 0] = c * u
        out.append(a)
    return out


def test_composition_takes_the_quantile_entry_by_entry(tiny_bert_dir, tmp_path):
    g = torch.Generator().manual_seed(0)
    u, v = torch.rand(128, generator=g) + 0.1, torch.rand(128, generator=g) + 0.1
    sign = torch.ones(128)
    sign[64:] = -1  # half the rows of ΔW negative: there the element-wise 75 % quantile picks a small c_i
    factors = [1.0, 2.0, 3.0, 5.0]
    adapters = rank_one_adapters(tiny_bert_dir, tmp_path, factors, u * sign, v)
    scaling = dict(adapters[0].model.named_modules())[next(iter(delta_weights(adapters[0].model)))].scaling["default"]
    hybrid = compose_adapters(adapters, quantile=0.75, rank=8, split="sqrt")
    q_hi, q_lo = np.quantile(factors, 0.75), np.quantile(factors, 0.25)  # 3.5 and 1.75
    expected = scaling * torch.outer(u * sign, v) * torch.where(sign > 0, q_hi, q_lo)[:, None]
    for name, d in delta_weights(hybrid.model).items():
        torch.testing.assert_close(d, expected.float(), atol=1e-5, rtol=1e-5)
    # 'both' puts S in each factor: B A = U S² Vᵀ
    both = delta_weights(compose_adapters(adapters, quantile=0.75, rank=8, split="both").model)
    u_, s_, vh_ = torch.linalg.svd(expected.double())
    torch.testing.assert_close(next(iter(both.values())).double(), (u_[:, :8] * s_[:8] ** 2) @ vh_[:8],
                               atol=1e-4, rtol=1e-4)


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
    merged = next(c for c in compositions() if c.name == f"peft-{kind}").apply(adapters, seed=0)
    d = delta_weights(merged.model, "merged")
    assert d and all(torch.isfinite(v).all() for v in d.values())
    for a in adapters:  # a merge is none of its inputs
        own = delta_weights(a.model)
        assert max(float((d[k] - own[k]).abs().max()) for k in d) > 1e-3
    if kind == "cat":  # concatenation with weights 1/n is exactly the mean update
        mean = {k: sum(delta_weights(a.model)[k] for a in adapters) / 3 for k in d}
        for k in d:
            torch.testing.assert_close(d[k], mean[k], atol=1e-6, rtol=1e-4)
    assert merged.embed(synthetic_texts(3), progress=False).shape == (3, 128)


def test_composed_encoders_reuse_the_frozen_prefix_of_their_adapters(tiny_bert_dir, tmp_path, monkeypatch):
    adapters = [replace(a, prefix_layers=1) for a in random_adapters(tiny_bert_dir, tmp_path, 3)]  # LoRA: last 3 of 4
    texts = synthetic_texts(6)
    adapters[0].embed(texts, progress=False)  # fills the prefix cache
    composed = [compose_adapters(adapters, rank=8), PeftMerge("ties", density=0.5).apply(adapters, seed=0)]
    references = []
    for enc in composed:
        references.append(replace(enc, cache_dir=None, prefix_layers=0).embed(texts, progress=False))
    monkeypatch.setattr(type(adapters[0].bert().embeddings), "forward",
                        lambda *a, **k: pytest.fail("prefix recomputed"))
    for enc, reference in zip(composed, references):
        np.testing.assert_allclose(enc.embed(texts, progress=False), reference, atol=1e-5)


def test_dare_merge_is_reproducible_by_seed_and_leaves_global_rng_alone(tiny_bert_dir, tmp_path):
    adapters = random_adapters(tiny_bert_dir, tmp_path, 3)
    torch.manual_seed(7)
    expected_next = torch.rand(1)
    torch.manual_seed(7)
    first = delta_weights(PeftMerge("dare_ties", density=0.5).apply(adapters, seed=1).model, "merged")
    assert torch.equal(torch.rand(1), expected_next)  # the caller's random stream is untouched
    again = delta_weights(PeftMerge("dare_ties", density=0.5).apply(adapters, seed=1).model, "merged")
    other = delta_weights(PeftMerge("dare_ties", density=0.5).apply(adapters, seed=2).model, "merged")
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first)


def test_every_composition_has_its_own_name_and_applies_and_bad_settings_are_refused(tiny_bert_dir, tmp_path):
    adapters = random_adapters(tiny_bert_dir, tmp_path, 3)
    every = compositions()
    assert [c.name for c in every] == ["hybrid-sqrt", "hybrid-both", "peft-svd", "peft-ties", "peft-dare_ties", "peft-cat"]
    assert every[0] == Hybrid(quantile=0.75, rank=8, split="sqrt") and every[2].svd_rank == 8
    assert compositions(quantile=0.5, rank=4)[0] == Hybrid(quantile=0.5, rank=4) and compositions(rank=4)[2].svd_rank == 4
    for c in every:
        assert c.apply(adapters, seed=0).embed(synthetic_texts(2), progress=False).shape == (2, 128)
    for bad in (lambda: Hybrid(quantile=1.5), lambda: Hybrid(split="half"), lambda: PeftMerge("ties"),
                lambda: PeftMerge("cat", density=0.5), lambda: PeftMerge("svd"), lambda: PeftMerge("mean")):
        with pytest.raises(ValueError, match="Hybrid|PeftMerge"):
            bad()


def test_peft_density_is_passed_to_the_merge(tiny_bert_dir, tmp_path):
    adapters = random_adapters(tiny_bert_dir, tmp_path, 3)
    dense = delta_weights(PeftMerge("ties", density=1.0).apply(adapters, seed=0).model, "merged")
    sparse = delta_weights(PeftMerge("ties", density=0.2).apply(adapters, seed=0).model, "merged")
    share = lambda d: sum(int((v != 0).sum()) for v in d.values()) / sum(v.numel() for v in d.values())  # noqa: E731
    assert share(sparse) < share(dense)
