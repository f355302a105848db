"""The risk sets, split once, for ``train_risk.py`` and ``bench/guard.py``.

Sources (``../shared/data/guard/risk``; see its SOURCE.md):

- licensed, split train / val / test (60 / 20 / 20, seeded, stratified by label;
  C-SSRS by *user*, so no user's posts sit on both sides): ``openai_moderation``
  (MIT), ``hatecheck``, ``xstest``, ``cssrs_reddit`` (CC BY 4.0);
- ``simplesafetytests`` (CC BY 4.0, 31 positives, no negatives): test only, an
  unseen source;
- ``twitter_suicidal_intention`` and ``olid``: **no licence**, internal
  evaluation only. Never trained on, never copied into the repo; the benchmark
  reads them from the shared folder.

Plain contact-centre text (never risky): Banking77 train (less ``N_BANKING_VAL``
rows held out for thresholds) and CLINC150 train for training; CLINC150 val +
oos_val and those rows for thresholds; Banking77 test and CLINC150 test +
oos_test for the benchmark only.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RISK = DATA / "guard" / "risk"
SEED = 13
LICENSED = ("openai_moderation", "hatecheck", "xstest", "cssrs_reddit")
N_BANKING_VAL = 2000
RISK_KINDS = ("self_harm", "threat", "abuse")

Row = tuple[str, str]  # (text, label)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _split_groups(keys: list[str], labels: list[str]) -> dict[str, str]:
    """group key -> split, 60/20/20 within each label, seeded."""
    by_label: dict[str, list[str]] = defaultdict(list)
    for k, lab in dict(zip(keys, labels)).items():
        by_label[lab].append(k)
    out: dict[str, str] = {}
    rng = random.Random(SEED)
    for lab in sorted(by_label):
        ks = sorted(by_label[lab])
        rng.shuffle(ks)
        n = len(ks)
        a, b = round(0.6 * n), round(0.8 * n)
        out.update({k: "train" for k in ks[:a]})
        out.update({k: "val" for k in ks[a:b]})
        out.update({k: "test" for k in ks[b:]})
    return out


def licensed_splits() -> dict[str, dict[str, list[Row]]]:
    """source -> split -> [(text, label)]."""
    out: dict[str, dict[str, list[Row]]] = {}
    for name in LICENSED:
        rows = read_csv(RISK / f"{name}.csv")
        if name == "cssrs_reddit":  # split by user: a user's posts share one label
            keys = [r["source_label"].split("|")[-1] for r in rows]
        else:
            keys = [r["text"] for r in rows]
        split = _split_groups(keys, [r["label"] for r in rows])
        parts: dict[str, list[Row]] = {"train": [], "val": [], "test": []}
        for k, r in zip(keys, rows):
            parts[split[k]].append((r["text"], r["label"]))
        out[name] = parts
    return out


def cssrs_users(split: str) -> dict[str, tuple[str, list[str]]]:
    """user -> (label, posts) in one split of C-SSRS, for scoring by user."""
    rows = read_csv(RISK / "cssrs_reddit.csv")
    keys = [r["source_label"].split("|")[-1] for r in rows]
    which = _split_groups(keys, [r["label"] for r in rows])
    users: dict[str, tuple[str, list[str]]] = {}
    for k, r in zip(keys, rows):
        if which[k] == split:
            users.setdefault(k, (r["label"], []))[1].append(r["text"])
    return users


def unseen_source(name: str) -> list[Row]:
    """A whole source that no model here trains on (``simplesafetytests``, and the
    unlicensed ``twitter_suicidal_intention`` and ``olid``: evaluation only)."""
    return [(r["text"], r["label"]) for r in read_csv(RISK / f"{name}.csv")]


# Hyperbole and homonyms: the benign twitter rows that use the words of risk.
LOOKALIKE_WORDS = re.compile(r"\b(kill\w*|die|dying|dead|suicid\w*|murder\w*|shoot\w*|end it|hurt\w*)\b", re.I)


def twitter_lookalikes() -> list[str]:
    return [t for t, lab in unseen_source("twitter_suicidal_intention")
            if lab == "benign" and LOOKALIKE_WORDS.search(t)]


def _lines(path: Path) -> list[str]:
    return [t.strip() for t in path.read_text(encoding="utf-8").splitlines() if t.strip()]


def service_text() -> dict[str, list[str]]:
    """Plain contact-centre text: ``train``, ``val`` (thresholds) and ``test`` (benchmark)."""
    clinc = json.loads((DATA / "intents" / "clinc150" / "data_full.json").read_text())
    banking = [r["text"] for r in read_csv(DATA / "intents" / "banking77" / "train.csv")]
    random.Random(SEED).shuffle(banking)
    return {
        "train": banking[N_BANKING_VAL:] + [t for t, _ in clinc["train"]] + [t for t, _ in clinc["oos_train"]],
        "val": banking[:N_BANKING_VAL] + [t for t, _ in clinc["val"]] + [t for t, _ in clinc["oos_val"]],
        "banking77_test": [r["text"] for r in read_csv(DATA / "intents" / "banking77" / "test.csv")],
        "clinc150_test": [t for t, _ in clinc["test"]] + [t for t, _ in clinc["oos_test"]],
    }
