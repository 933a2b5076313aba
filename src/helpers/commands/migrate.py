"""Rewrite the keys of results rows stored under an older key schema, numbers untouched.

    python -m helpers.commands.migrate results/results.csv [--data-dir FOLDER]

Schema 2 → 3 (variants became frozen dataclasses whose fields are their key): each row's
settings are rebuilt from the variant its old name stood for, with the phase-1 arguments its
old settings record, and its key is the hash of the new identity. Before anything is written,
every row's old key is recomputed from its columns and must equal the stored one, so a row whose
identity cannot be read back exactly stops the migration. Compositions name the reviews they
combine with their data checksums: those are read from the data folder and must equal the
checksums the table itself records for those reviews (the adapters were trained on that data).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

import pandas as pd

from ..core import results
from ..core.config import SweepConfig, TrainingArgs

OLD_SCHEMA = 2


class MigrationError(RuntimeError):
    """A row cannot be migrated faithfully; the message names it."""


def legacy_variants() -> dict:
    """Schema-2 variant names → the variants they were (``hybrid-*``/``peft-*`` → a composition
    of the reviews their settings name, built per row)."""
    from ..methods.beyond import ACTIVE_LEARNING_CANDIDATES, ONE_SHOT_CANDIDATES, LeaveOneOut
    from ..methods.peers import PEERS
    from ..methods.variants import STUDY_VARIANTS

    found = {v.name: v for v in (*STUDY_VARIANTS, *PEERS, *ONE_SHOT_CANDIDATES, *ACTIVE_LEARNING_CANDIDATES)}
    found.update({"loo-hybrid": LeaveOneOut(), "loo-hybrid+phase1": LeaveOneOut(phase1=True)})
    return found


def _training(old: dict) -> TrainingArgs:
    """The phase-1 arguments an old row was trained with (schema 2 also stored ``max_length``,
    always null: phase 1 truncates at the encoder's length, which the key's columns hold)."""
    given = {k: v for k, v in old.get("training", {}).items() if k != "max_length"}
    unknown = set(given) - {f.name for f in fields(TrainingArgs)}
    if unknown:
        raise MigrationError(f"training arguments {sorted(unknown)} are not phase-1 arguments")
    return TrainingArgs.from_identity(given)


def new_variant(name: str, old: dict, known: dict):
    """The variant an old row's name and settings describe."""
    from ..models.compose import compositions
    from ..methods.skills import ComposedSkills

    if name in known:
        return known[name]
    by_name = {c.name: c for c in compositions(quantile=old.get("composition", {}).get("quantile"),
                                                rank=old.get("composition", {}).get("rank"))}
    if name in by_name and "composed_from" in old:
        return ComposedSkills(by_name[name], reviews=tuple(old["composed_from"]))
    raise MigrationError(f"variant {name!r}: no variant of this version stands for it")


def migrate_table(table: pd.DataFrame, *, data_dir: str | None = None) -> pd.DataFrame:
    """The table with every schema-2 row's ``variant``, ``settings`` and ``key`` rewritten."""
    known = legacy_variants()
    checksums = table.groupby("review")["data_checksum"].agg(set).to_dict()
    with_text = sorted(checksums)
    out = table.copy()
    for i, row in table.iterrows():
        old_key = results.key_of_row(row)
        if old_key.hash_at(OLD_SCHEMA) != row["key"]:
            if old_key.hash == row["key"]:
                continue  # already at the current schema
            raise MigrationError(f"row {i} ({row['review']}, {row['variant']}, seed {row['seed']}): its columns do "
                                 "not spell its stored key; it cannot be migrated faithfully")
        old = json.loads(row["settings"])
        variant = new_variant(row["variant"], old, known)
        config = SweepConfig(training=_training(old), data_dir=data_dir, n_per_class=old_key.n_per_class,
                             eval_cap=old_key.eval_cap)
        settings = variant.settings(config, old_key.review)
        for review, checksum in settings.get("composed_from", []):
            if checksum not in checksums.get(review, set()):
                raise MigrationError(f"row {i}: {review}'s data here (checksum {checksum[:12]}…) is not the data "
                                     "the table's rows of that review were computed on")
        if old.get("reviews") == "all with text" and len(settings["composed_from"]) != len(with_text) - 1:
            raise MigrationError(f"row {i}: composed from every other review with text when it was computed "
                                 f"({len(with_text) - 1}), but {len(settings['composed_from'])} are here")
        key = results.RowKey(**{**old_key.__dict__, "variant": variant.name,
                                "settings": results.canonical_json(settings)})
        out.loc[i, ["variant", "settings", "key"]] = [variant.name, key.settings, key.hash]
    return out


def main(argv: list[str] | None = None) -> int:
    from ..core.cli import offline
    from ..core.io import atomic_path, file_lock

    offline()
    p = argparse.ArgumentParser(prog="python -m helpers.commands.migrate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("table", type=Path)
    p.add_argument("--data-dir", default=None)
    a = p.parse_args(argv)
    with file_lock(a.table):
        table = results.read(a.table)
        try:
            migrated = migrate_table(table, data_dir=a.data_dir)
        except MigrationError as exc:
            print(f"{a.table}: {exc}", file=sys.stderr)
            return 1
        changed = int((migrated["key"] != table["key"]).sum())
        numbers = [c for c in table.columns if c not in ("variant", "settings", "key")]
        assert migrated[numbers].equals(table[numbers])  # only identity columns were touched
        with atomic_path(a.table) as tmp:
            migrated.to_csv(tmp, index=False)
    print(f"{a.table}: {changed} of {len(table)} rows given schema-{results.SCHEMA} keys; numbers untouched")
    return 0


if __name__ == "__main__":
    sys.exit(main())
