import numpy as np
import pytest
import torch
from torch import nn

from conftest import synthetic_texts
from helpers.models.compress import (cast, encoder_linears, quantize_weights, quantize_int8_dynamic, sparsity_of,
                                     wanda_mask, wanda_prune)
from helpers.core.config import TrainingArgs
from helpers.models.contrastive import with_lora
from helpers.models.encoder import load_encoder


@pytest.fixture
def lora_encoder(tiny_bert_dir, tmp_path):
    enc = load_encoder(str(tiny_bert_dir), cache_dir=tmp_path)
    adapted = with_lora(enc, TrainingArgs(), seed=0)
    with torch.no_grad():  # non-zero B so LoRA contributes and can be checked
        for n, p in adapted.model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.02)
    return adapted


def lora_state(model):
    return {k: v.clone() for k, v in model.state_dict().items() if "lora_" in k}


def rel_err(a, b):
    return float((a - b).norm() / b.norm())


def test_int4_layer_output_close_and_weights_really_4bit(lora_encoder):
    from optimum.quanto import QTensor

    x = torch.randn(64, 128)
    name, dense = next((n, m) for n, m in encoder_linears(lora_encoder.model).items() if "intermediate" in n)
    q = quantize_weights(lora_encoder)
    qlayer = dict(q.model.named_modules())[name]
    with torch.no_grad():
        ref, got = dense(x), qlayer(x)
    # 4-bit affine groups of 128: rounding error ~ step/sqrt(12) with step = range/15, about
    # 10 % of a Gaussian weight's spread; 0.2 leaves room without hiding a broken kernel.
    assert rel_err(got, ref) < 0.2
    qw = qlayer.qweight
    assert isinstance(qw, QTensor) and qw.qtype.bits == 4
    packed = qw._data._data if hasattr(qw._data, "_data") else qw._data
    assert packed.dtype == torch.uint8 and packed.numel() * 8 == dense.weight.numel() * 4
    # LoRA matrices untouched and still float nn.Linear
    assert all(type(m) is nn.Linear for n, m in q.model.named_modules() if n.endswith(("lora_A.default", "lora_B.default")))
    for k, v in lora_state(lora_encoder.model).items():
        assert torch.equal(q.model.state_dict()[k], v)
    assert q.fingerprint() != lora_encoder.fingerprint() and "int4" in q.weights_tag
    assert lora_encoder.weights_tag == ""  # the input encoder is not changed


def test_whole_encoder_int4_and_int8_stay_close(lora_encoder):
    texts = synthetic_texts(6)
    ref = lora_encoder.embed(texts, progress=False)
    for make, bound in ((quantize_weights, 0.2), (quantize_int8_dynamic, 0.05)):
        got = make(lora_encoder).embed(texts, progress=False)
        assert rel_err(torch.tensor(got), torch.tensor(ref)) < bound, make.__name__
    i8 = quantize_int8_dynamic(lora_encoder)
    kinds = {type(m).__name__ for n, m in i8.model.named_modules() if n.endswith(".key.base_layer")}
    assert kinds == {"Linear"} and any("quantized" in type(m).__module__ for m in i8.model.modules())
    assert all(type(m) is nn.Linear for n, m in i8.model.named_modules() if n.endswith("lora_A.default"))


def test_casts_change_dtype_not_the_input(lora_encoder):
    half = cast(lora_encoder, torch.bfloat16)
    assert next(half.model.parameters()).dtype == torch.bfloat16
    assert next(lora_encoder.model.parameters()).dtype == torch.float32


def test_wanda_mask_matches_a_direct_reference():
    rng = np.random.default_rng(0)
    w, norms = rng.normal(size=(6, 10)), rng.uniform(0.1, 3, size=10)
    mask = wanda_mask(torch.tensor(w), torch.tensor(norms), 0.5).numpy()
    score = np.abs(w) * norms
    for row in range(6):
        expected = set(np.argsort(score[row])[:5])
        assert set(np.flatnonzero(mask[row])) == expected


def test_wanda_prunes_half_of_every_row_with_reference_scores(lora_encoder):
    texts = synthetic_texts(16, seed=3)
    # Reference for the first block's query: dense activations over non-padding tokens.
    name = next(n for n in encoder_linears(lora_encoder.model) if n.endswith("layer.0.attention.self.query"))
    layer = dict(lora_encoder.model.named_modules())[name]
    batch = lora_encoder.tokenizer(texts, padding=True, truncation=True, return_tensors="pt",
                                   max_length=lora_encoder.max_length)
    seen = []
    h = layer.register_forward_hook(lambda m, i, o: seen.append(i[0][batch["attention_mask"].bool()]))
    with torch.no_grad():
        lora_encoder.model(**batch)
    h.remove()
    x = seen[0].numpy().astype(np.float64)
    score = np.abs(layer.weight.detach().numpy()) * np.sqrt((x ** 2).sum(0))
    expected_removed = np.argsort(score, axis=1, kind="stable")[:, : x.shape[1] // 2]

    pruned = wanda_prune(lora_encoder, texts, sparsity=0.5)
    pw = dict(pruned.model.named_modules())[name].weight.detach().numpy()
    for row in range(pw.shape[0]):
        assert set(np.flatnonzero(pw[row] == 0)) == set(expected_removed[row])
    for n, share in sparsity_of(pruned.model).items():
        w = dict(pruned.model.named_modules())[n].weight
        assert ((w == 0).sum(1) == w.shape[1] // 2).all(), n
    for k, v in lora_state(lora_encoder.model).items():
        assert torch.equal(pruned.model.state_dict()[k], v)
    assert max(sparsity_of(lora_encoder.model).values()) == 0  # input untouched
