import numpy as np
import pytest
import torch

from conftest import synthetic_texts
from helpers.encoder import load_encoder, pool, random_specter_encoder


def test_local_path_without_st_config_uses_cls_and_its_own_limit(tiny_bert_dir, tmp_path):
    enc = load_encoder(str(tiny_bert_dir), cache_dir=tmp_path)
    assert enc.pooling == "cls" and enc.max_length == 64  # below the study's 512
    assert enc.sep_token == "[SEP]"


def test_embed_equals_direct_forward_and_is_order_independent(tiny_bert_dir, tmp_path):
    enc = load_encoder(str(tiny_bert_dir), cache_dir=tmp_path)
    texts = synthetic_texts(7)
    got = enc.embed(texts, batch_size=3, progress=False)
    assert got.dtype == np.float32 and got.shape == (7, 32)
    with torch.no_grad():
        for t, row in zip(texts, got):  # one at a time: no padding at all
            ids = enc.tokenizer(t, truncation=True, max_length=enc.max_length, return_tensors="pt")
            np.testing.assert_allclose(enc.model(**ids).last_hidden_state[0, 0].numpy(), row, atol=1e-5)
    np.testing.assert_allclose(enc.embed(texts[::-1], progress=False), got[::-1], atol=1e-6)


def test_cache_hit_skips_the_model_and_key_includes_length(tiny_bert_dir, tmp_path, monkeypatch):
    enc = load_encoder(str(tiny_bert_dir), cache_dir=tmp_path)
    texts = synthetic_texts(5)
    first = enc.embed(texts, progress=False)
    monkeypatch.setattr(enc, "_forward_texts", lambda *a, **k: pytest.fail("cache miss"))
    np.testing.assert_array_equal(enc.embed(texts, progress=False), first)
    with pytest.raises(BaseException, match="cache miss"):
        enc.embed(texts, max_length=8, progress=False)


def test_fingerprint_follows_adapter_weights(tiny_bert_dir, tmp_path):
    from helpers.contrastive import TrainingArgs, with_lora

    enc = load_encoder(str(tiny_bert_dir), cache_dir=tmp_path)
    adapted = with_lora(enc, TrainingArgs(), seed=0)
    fp = adapted.fingerprint()
    assert fp != enc.fingerprint()
    with torch.no_grad():
        next(p for n, p in adapted.model.named_parameters() if "lora_B" in n).add_(1.0)
    assert adapted.fingerprint() != fp


def test_mean_pooling_ignores_padding():
    states = torch.tensor([[[1.0, 1.0], [3.0, 3.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert pool(states, mask, "mean").tolist() == [[2.0, 2.0]]
    assert pool(states, mask, "cls").tolist() == [[1.0, 1.0]]
    with pytest.raises(ValueError, match="pooling"):
        pool(states, mask, "max")


def test_packaged_minilm_is_the_offline_default(tmp_path):
    enc = load_encoder("auto", cache_dir=tmp_path)
    assert enc.name == "all-MiniLM-L6-v2" and enc.pooling == "mean" and enc.max_length == 256


def test_random_specter_has_the_exact_configuration():
    enc = random_specter_encoder()
    c = enc.model.config
    assert (c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size,
            c.max_position_embeddings, c.vocab_size) == (12, 768, 12, 3072, 512, 31116)
    assert "random weights" in enc.name and enc.pooling == "cls" and enc.cache_dir is None
    n = sum(p.numel() for p in enc.model.parameters())
    assert 109e6 < n < 111e6
