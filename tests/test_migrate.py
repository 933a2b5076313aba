"""The one-off key migration (schema 2 → 3): keys rewritten to what the sweeps now plan, numbers
untouched, and every row the migration cannot reproduce exactly is refused by name."""

import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import SHARED, write_review
from helpers.core import results
from helpers.methods.beyond import candidate
from helpers.models.compose import Hybrid, PeftMerge
from helpers.core.config import SweepConfig
from helpers.core.data import review_checksum
from helpers.methods.experiment import plan_keys
from helpers.commands.migrate import MigrationError, migrate_table
from helpers.methods.peers import ASREVIEW_AL, ASREVIEW_ONESHOT, SETFIT, TFIDF_LR
from helpers.methods.skills import ComposedSkills
from helpers.methods.variants import STUDY_VARIANTS

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = Path(__file__).parent / "data" / "results_schema2_sample.csv"  # a schema-2 row of each variant and review
REVIEWS = ("nsaids", "adhd", "triptans")


def legacy_rows(sample: pd.DataFrame, data: Path, encoder: dict) -> pd.DataFrame:
    """The sample's settings on synthetic reviews, keyed as schema 2 keyed them."""
    rows = []
    for review, (_, old) in ((r, o) for r in REVIEWS for o in sample.iterrows()):
        settings = json.loads(old["settings"])
        if "composed_from" in settings:
            settings["composed_from"] = list(REVIEWS)
        uses_encoder = isinstance(old["encoder"], str)
        key = results.RowKey(review=review, data_checksum=review_checksum(review, data), variant=old["variant"],
                             seed=0, n_per_class=8, eval_cap=None, settings=results.canonical_json(settings),
                             **(encoder if uses_encoder else {}))
        rows.append({**key.columns(), "key": key.hash_at(2), "awss": 0.5, "seconds": 1.25})
    return pd.DataFrame(rows)


@pytest.fixture
def synthetic(tmp_path, tiny_bert_dir, monkeypatch):
    monkeypatch.setenv("SLR_CACHE_DIR", str(tmp_path / "cache"))
    for k, slug in enumerate(REVIEWS):
        write_review(tmp_path / "data", slug, n=40, n_pos=12, seed=k)
    config = SweepConfig(encoder=str(tiny_bert_dir), data_dir=str(tmp_path / "data"))
    from helpers.methods.trial import encoder_for

    sample = pd.read_csv(SAMPLE, dtype={"settings": str}).drop_duplicates("variant")
    table = legacy_rows(sample, tmp_path / "data", encoder_for(config).identity())
    return config, table


def test_migrated_keys_are_the_keys_the_sweeps_now_plan_and_numbers_stay(synthetic):
    config, table = synthetic
    migrated = migrate_table(table, data_dir=config.data_dir)
    assert migrated[["awss", "seconds", "review", "seed"]].equals(table[["awss", "seconds", "review", "seed"]])
    top = ComposedSkills(Hybrid(), reviews=REVIEWS)
    variants = (*STUDY_VARIANTS, TFIDF_LR, SETFIT, ASREVIEW_ONESHOT, ASREVIEW_AL, candidate("concat:asreview+base@0.5"),
                candidate("loo-hybrid-sqrt+phase1"), candidate("lora-all-layers"), candidate("lora-cka3"),
                candidate("lora-all-pairs"), candidate("al-embeddings+tfidf"), top,
                ComposedSkills(PeftMerge("ties", density=0.5), reviews=REVIEWS))
    planned = plan_keys(config, list(REVIEWS), [0], variants)
    by_row = migrated.set_index(["review", "variant"])["key"]
    for (review, _, name), key in planned.items():
        assert by_row[(review, name)] == key.hash, (review, name)
    assert set(migrated["key"]) >= {k.hash for k in planned.values()}
    assert (migrated["key"] != table["key"]).all()
    # a second run leaves a migrated table as it is
    assert migrate_table(migrated, data_dir=config.data_dir)["key"].equals(migrated["key"])


def test_a_row_whose_columns_do_not_spell_its_key_or_whose_data_changed_is_refused(synthetic, tmp_path):
    config, table = synthetic
    broken = table.copy()
    broken.loc[0, "seed"] = 7
    with pytest.raises(MigrationError, match=r"row 0 .* do not spell its stored key"):
        migrate_table(broken, data_dir=config.data_dir)
    write_review(tmp_path / "data", "adhd", n=40, n_pos=10, seed=9)  # the adapters' data is not this
    with pytest.raises(MigrationError, match="adhd's data here"):
        migrate_table(table, data_dir=config.data_dir)


def test_the_committed_table_is_the_migration_of_its_schema_2_rows_and_spells_its_keys():
    committed = results.read(ROOT / "results" / "results.csv")
    assert all(results.key_of_row(row).hash == row["key"] for _, row in committed.iterrows())
    if not (SHARED / "nsaids.csv.gz").is_file():
        pytest.skip(f"real data not present at {SHARED}: the compositions' checksums cannot be read")
    sample = results.read(SAMPLE)
    migrated = migrate_table(sample, data_dir=str(SHARED)).set_index("key")
    stored = committed.set_index("key").loc[migrated.index]
    for column in ("review", "seed", "variant", "awss", "wss", "threshold", "seconds"):
        assert stored[column].equals(migrated[column]), column
