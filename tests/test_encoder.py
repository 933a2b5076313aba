from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import synthetic_texts
from helpers.models.embedding import pool
from helpers.models.embedding_cache import ArrayStore
from helpers.models.encoder import EncoderError, display_name, load_encoder, random_encoder, resolve_encoder_name


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
    monkeypatch.setattr(type(enc), "_forward_texts", lambda *a, **k: pytest.fail("cache miss"))
    np.testing.assert_array_equal(enc.embed(texts, progress=False), first)
    with pytest.raises(BaseException, match="cache miss"):
        enc.embed(texts, max_length=8, progress=False)


def test_fingerprint_follows_adapter_weights(tiny_bert_dir, tmp_path):
    from helpers.core.config import TrainingArgs
    from helpers.models.contrastive import with_lora

    enc = load_encoder(str(tiny_bert_dir), cache_dir=tmp_path)
    adapted = with_lora(enc, TrainingArgs(), seed=0)
    fp = adapted.fingerprint()
    assert with_lora(enc, TrainingArgs(), seed=0).fingerprint() == fp  # same seed, same initial adapter
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


def test_packaged_minilm_is_the_offline_default_and_normalises_as_it_declares(tmp_path):
    enc = load_encoder("auto", cache_dir=tmp_path)
    assert enc.name == "all-MiniLM-L6-v2" and enc.pooling == "mean" and enc.max_length == 256
    assert enc.normalize  # its modules.json ends with a Normalize module
    texts = synthetic_texts(4)
    unit = enc.embed(texts, progress=False)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1, atol=1e-5)
    raw = replace(enc, normalize=False).embed(texts, progress=False)
    np.testing.assert_allclose(unit, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-6)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1)
    assert not load_encoder("auto", cache_dir=None, normalize=False).normalize


def test_sentence_transformers_agrees_with_the_packaged_pipeline(tmp_path):
    from sentence_transformers import SentenceTransformer

    enc = load_encoder("auto", cache_dir=tmp_path)
    texts = synthetic_texts(3)
    reference = SentenceTransformer(resolve_encoder_name("auto"), device="cpu").encode(texts)
    np.testing.assert_allclose(enc.embed(texts, progress=False), reference, atol=1e-5)


def test_random_specter_has_the_exact_configuration():
    enc = random_encoder()
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
    from helpers.core.config import TrainingArgs
    from helpers.models.contrastive import with_lora

    texts = synthetic_texts(9)
    plain = load_encoder(str(tiny_bert_dir), cache_dir=None)
    cached = replace(load_encoder(str(tiny_bert_dir), cache_dir=tmp_path), prefix_layers=1)  # LoRA: last 3 of 4
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
    from helpers.core.config import TrainingArgs
    from helpers.models.contrastive import with_lora

    enc = replace(with_lora(load_encoder(str(tiny_bert_dir), cache_dir=tmp_path), TrainingArgs(), seed=0),
                  prefix_layers=2)
    with pytest.raises(ValueError, match="prefix_layers=2 but .*adapts layer 1"):
        enc.embed(synthetic_texts(2), progress=False)


def test_tiny_bert_declares_no_normalisation_like_specter(tiny_bert_dir):
    enc = load_encoder(str(tiny_bert_dir), cache_dir=None)
    assert not enc.normalize and enc.identity()["normalize"] is False
    assert enc.identity()["encoder_fingerprint"] == enc.base_fingerprint[:16]


def test_encoder_names_that_cannot_load_offline_are_clear_errors(tmp_path, tiny_bert_dir):
    with pytest.raises(EncoderError, match="'/missing/path': no such folder"):
        resolve_encoder_name("/missing/path")
    with pytest.raises(EncoderError, match="not in the local Hugging Face cache"):
        resolve_encoder_name("someone/not-downloaded")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EncoderError, match="no config.json"):
        resolve_encoder_name(str(tmp_path / "empty"))
    assert resolve_encoder_name(str(tiny_bert_dir)) == str(tiny_bert_dir)


def test_display_names_do_not_guess_from_substrings(tmp_path):
    assert display_name(resolve_encoder_name("auto")) == "all-MiniLM-L6-v2"
    folder = tmp_path / "hub" / "models--allenai--specter" / "snapshots" / "abc123"
    folder.mkdir(parents=True)
    assert display_name(str(folder)) == "allenai/specter"
    mine = tmp_path / "my-specter-finetune"
    mine.mkdir()
    assert display_name(str(mine)) == "my-specter-finetune"  # not "allenai/specter"


@pytest.mark.parametrize("damage", ["truncate data", "empty keys"])
def test_damaged_cache_shard_is_reported_removed_and_rebuilt(tiny_bert_dir, tmp_path, damage):
    enc = load_encoder(str(tiny_bert_dir), cache_dir=tmp_path)
    texts = synthetic_texts(6)
    first = enc.embed(texts, progress=False)
    (shard,) = [p for p in (tmp_path / "embeddings").glob("*/*") if p.is_dir()]
    if damage == "truncate data":
        data = (shard / "data.npy").read_bytes()
        (shard / "data.npy").write_bytes(data[: len(data) // 2])
    else:
        (shard / "keys.npy").write_bytes(b"")
    with pytest.warns(UserWarning, match=f"damaged cache entry {shard}"):
        again = enc.embed(texts, progress=False)
    np.testing.assert_allclose(again, first, atol=1e-6)
    assert len([p for p in (tmp_path / "embeddings").glob("*/*") if p.is_dir()]) == 1  # rebuilt, whole


def test_concurrent_writers_of_the_same_shard_never_corrupt_it(tmp_path):
    import multiprocessing as mp

    states = {f"k{i}": np.full((3, 4), i, np.float32) for i in range(20)}
    ctx = mp.get_context("spawn")  # fork after torch/OpenMP started can hang the child
    for _ in range(3):
        procs = [ctx.Process(target=ArrayStore(tmp_path / "store").add, args=(states,)) for _ in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        assert all(p.exitcode == 0 for p in procs)
        found = ArrayStore(tmp_path / "store").lookup(list(states))
        assert found.keys() == states.keys() and all(np.array_equal(found[k], v) for k, v in states.items())
    assert [p.name for p in (tmp_path / "store").iterdir() if p.name.startswith(".")] == []


def test_fingerprint_is_stable_across_loads_even_with_weights_the_checkpoint_lacks(tiny_bert_dir):
    # the tiny BERT is saved without a pooler, which transformers initialises at random on load
    assert load_encoder(str(tiny_bert_dir), cache_dir=None).base_fingerprint == \
        load_encoder(str(tiny_bert_dir), cache_dir=None).base_fingerprint
