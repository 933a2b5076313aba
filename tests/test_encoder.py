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
    assert got.dtype == np.float32 and got.shape == (7, 128)
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


def test_split_forward_equals_the_models_own_forward(tiny_bert_dir, tmp_path):
    enc = load_encoder(str(tiny_bert_dir), cache_dir=tmp_path)
    batch = enc.tokenizer(synthetic_texts(5), padding=True, return_tensors="pt")
    with torch.no_grad():
        ref = enc.model(**batch).last_hidden_state
        hidden = enc.bert().embeddings(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"])
        mid = enc.run_layers(hidden, batch["attention_mask"], 0, 2)
        got = enc.run_layers(mid, batch["attention_mask"], 2, 4)
    m = batch["attention_mask"].bool()
    torch.testing.assert_close(got[m], ref[m], atol=1e-5, rtol=1e-5)


def test_prefix_cache_gives_the_same_embeddings_and_is_shared_by_adapters(tiny_bert_dir, tmp_path, monkeypatch):
    from helpers.contrastive import TrainingArgs, with_lora

    texts = synthetic_texts(9)
    plain = load_encoder(str(tiny_bert_dir), cache_dir=None)
    cached = load_encoder(str(tiny_bert_dir), cache_dir=tmp_path)
    cached.prefix_layers = 1  # LoRA adapts the last 3 of 4 layers
    np.testing.assert_allclose(cached.embed(texts, progress=False), plain.embed(texts, progress=False), atol=1e-5)
    args = TrainingArgs()
    lora_plain, lora_cached = with_lora(plain, args, seed=1), with_lora(cached, args, seed=1)
    with torch.no_grad():
        for a, b in zip(lora_plain.model.parameters(), lora_cached.model.parameters()):
            if a.requires_grad:
                a.normal_(0, 0.05)
                b.copy_(a)
    reference = lora_plain.embed(texts, progress=False)
    # the adapter's pass must reuse the base prefix: the embeddings layer may not run again
    monkeypatch.setattr(type(lora_cached.bert().embeddings), "forward",
                        lambda *a, **k: pytest.fail("prefix recomputed"))
    np.testing.assert_allclose(lora_cached.embed(texts, progress=False), reference, atol=1e-5)


def test_prefix_over_an_adapted_layer_is_refused(tiny_bert_dir, tmp_path):
    from helpers.contrastive import TrainingArgs, with_lora

    enc = with_lora(load_encoder(str(tiny_bert_dir), cache_dir=tmp_path), TrainingArgs(), seed=0)
    enc.prefix_layers = 2
    with pytest.raises(ValueError, match="prefix_layers=2 but .*adapts layer 1"):
        enc.embed(synthetic_texts(2), progress=False)
