"""The Guard benchmark's injection and risk figures (``bench/guard.py`` prints them).

Injection: deepset/prompt-injections **test** (English and German apart, by a
stop-word count), giskard (all 35), garak in-the-wild **held-out half**,
HarmBench behaviours and VoiceJailbreak prompts (flagged as injection or
unsafe), and the hand-written spoken sets of ``guard_sets``. False positives,
injection detector only, on benign caller text: Banking77 test, CLINC150 test +
oos_test, ``guard_sets.CALLER_COMPLAINT`` (complaint, retention and frustration
language, written by hand) and the customer turns of the three ABCD sample
dialogues.

Risk (``risk.assess_risk`` on finals: patterns + n-gram model + the embedding head,
each text's MiniLM embedding computed as the Route gate computes a final's, through
``tools/risk_embed.py``'s disk cache; the same without the embedding,
``risk_recall_no_encoder``, what a deployment without the encoder wheel gets; and
the patterns alone, the floor): recall of self-harm and threats per source, on the *val* and *test*
splits of the licensed sets (``tools/risk_data.py``; thresholds were set on val)
and on whole sources never trained on: SimpleSafetyTests, the unlicensed twitter
set (internal evaluation only), the hand-written caller sets. C-SSRS is scored
per post and per user (a user is flagged when any post is). False positives on
look-alikes: XSTest safe prompts (test split), the benign twitter rows that use
the words of risk (hyperbole), Banking77 test + CLINC150 test + oos_test and
``guard_sets.CALLER_LOOKALIKE``.

The welfare check (``risk.WELFARE_CHECK_BELOW``): a final just under the self-harm
threshold gets "are you thinking about harming yourself?" instead of a verdict.
``risk_recall_with_check`` counts a row flagged *or* asked (the caller's answer then
decides); ``risk_check_rate_lookalike`` is how often a look-alike is asked (a question,
not a handoff; ``risk_fpr_lookalike`` is unchanged by it). ``caller_fresh`` holds the
second hand-written caller sample (``guard_sets.*_FRESH``), written before the check
existed. ``welfare_band`` is the validation grid the band was chosen on.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import risk_data
import risk_embed
from guard_sets import (
    CALLER_ABUSE, CALLER_COMPLAINT, CALLER_LOOKALIKE, CALLER_LOOKALIKE_FRESH, CALLER_SELF_HARM,
    CALLER_SELF_HARM_FRESH, CALLER_SLOT_ANSWERS, CALLER_THREAT, CALLER_THREAT_FRESH, SPOKEN_AUTHORITY,
    SPOKEN_ROLEPLAY,
)
from train_injection import garak_split, is_german, read_csv

from turngate.gates.guard.entities import detect
from turngate.gates.guard.injection import detect_injection
from turngate.gates.guard.risk import WELFARE_CHECK_BELOW, RiskVerdict, assess_risk, detect_risk, model_words

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def rate(flags: list[bool]) -> float:
    return round(sum(flags) / len(flags), 4) if flags else float("nan")


def abcd_customer_turns() -> list[str]:
    dialogues = json.loads((DATA / "dialogues" / "abcd" / "abcd_sample.json").read_text())
    return [text for d in dialogues for who, text in d["original"] if who == "customer"]


def service_sets() -> dict[str, list[str]]:
    """Benign service text: Banking77 and CLINC150 test, the complaint set, the ABCD customer turns."""
    service = risk_data.service_text()
    return {"banking77_test": service["banking77_test"], "clinc150_test+oos": service["clinc150_test"],
            "caller_complaint": CALLER_COMPLAINT, "abcd_customer": abcd_customer_turns()}


def injection_block() -> dict:
    g = DATA / "guard"
    test = read_csv(g / "deepset_prompt_injections" / "test.csv")
    pos = [r["text"] for r in test if r["label"] == "1"]
    neg = [r["text"] for r in test if r["label"] == "0"]
    german = [is_german(t) for t in pos]
    giskard = [r["prompt"] for r in read_csv(g / "giskard_prompt_injections" / "prompt_injections.csv")]
    _, garak_held = garak_split()
    harm = [t for t in (g / "garak" / "harmbench_prompts.txt").read_text().splitlines() if t.strip()]
    voice = [r["prompt"] for r in read_csv(g / "voice_jailbreak" / "voicejailbreak.csv")]
    voice += [r.get("prompt") or r.get("text") or "" for r in read_csv(g / "voice_jailbreak" / "text_jailbreak_prompts.csv")]
    voice = [v for v in voice if v]
    benign = service_sets() | {"caller_slot_answers": CALLER_SLOT_ANSWERS}

    def inj(t: str) -> bool:  # as the gate asks: with the guard's PII findings in the text
        return detect_injection(t, findings=detect(t).findings).injection

    def flagged(t: str) -> bool:  # what the gate does not let through: injection or unsafe
        return inj(t) or bool(detect_risk(t))

    caught = list(map(inj, pos))
    fp = {name: [t for t in texts if inj(t)] for name, texts in benign.items()}
    n = sum(len(t) for t in benign.values())
    return {
        "deepset_test_tpr": rate(caught),
        "deepset_test_tpr_en": rate([c for c, de in zip(caught, german) if not de]),
        "deepset_test_tpr_de": rate([c for c, de in zip(caught, german) if de]),
        "deepset_test_fpr_on_its_benign": rate(list(map(inj, neg))),
        "giskard_tpr": rate(list(map(inj, giskard))),
        "garak_heldout_tpr": rate(list(map(inj, garak_held))),
        "harmbench_flagged": rate(list(map(flagged, harm))),
        "voice_jailbreak_flagged": rate(list(map(flagged, voice))),
        "spoken_authority_tpr": rate(list(map(inj, SPOKEN_AUTHORITY))),
        "spoken_roleplay_tpr": rate(list(map(inj, SPOKEN_ROLEPLAY))),
        "benign_fpr": round(sum(map(len, fp.values())) / n, 5),
        "benign_fp": {name: len(v) for name, v in fp.items()} | {"n": n},
        "benign_fpr_by_set": {name: rate([t in fp[name] for t in texts]) for name, texts in benign.items()},
        "caller_complaint_fp_texts": fp["caller_complaint"] + fp["abcd_customer"],
        "deepset_test_n": {"en": german.count(False), "de": german.count(True)},
        "garak_heldout_n": len(garak_held), "harmbench_n": len(harm), "voice_jailbreak_n": len(voice),
    }


_VERDICTS: dict[tuple[str, str], RiskVerdict] = {}


def risk_verdicts(texts: list[str], mode: str = "full") -> list[RiskVerdict]:
    """The risk verdict on each final. ``mode``: ``full`` (patterns, n-grams and embedding),
    ``no_encoder`` (patterns and n-grams), ``floor`` (patterns)."""
    todo = [t for t in dict.fromkeys(texts) if (mode, t) not in _VERDICTS]
    if todo:
        if mode == "floor":
            found = [RiskVerdict(k if k in ("self_harm", "threat", "abuse") else "", "pattern")
                     for k in map(detect_risk, todo)]
        elif mode == "no_encoder":
            found = [assess_risk(t) for t in todo]
        else:
            # the live gate's embedding: of the text the models read (``risk.model_words``)
            found = [assess_risk(t, embedding=e) for t, e in zip(todo, risk_embed.embed([model_words(t) for t in todo]))]
        _VERDICTS.update({(mode, t): v for t, v in zip(todo, found)})
    return [_VERDICTS[(mode, t)] for t in texts]


def risk_kinds(texts: list[str], mode: str = "full") -> list[str]:
    """The risk kind found in each final ("" when none)."""
    return [v.kind for v in risk_verdicts(texts, mode)]


def checked(texts: list[str]) -> list[bool]:
    """Whether each final gets the welfare check (no kind, a self-harm concern)."""
    return [bool(v.concern) for v in risk_verdicts(texts)]


def flagged_rate(texts: list[str], mode: str = "full") -> float:
    return rate([bool(k) for k in risk_kinds(texts, mode)])


def _recall(rows: list[tuple[str, str]], kind: str, mode: str) -> tuple[float, int]:
    sel = [t for t, lab in rows if lab == kind]
    return flagged_rate(sel, mode), len(sel)


def risk_block() -> dict:
    splits = risk_data.licensed_splits()
    caller = ([(t, "self_harm") for t in CALLER_SELF_HARM] + [(t, "threat") for t in CALLER_THREAT]
              + [(t, "abuse") for t in CALLER_ABUSE])
    unseen = {"simplesafetytests": risk_data.unseen_source("simplesafetytests"),
              "twitter_unlicensed": risk_data.unseen_source("twitter_suicidal_intention"),
              "caller_handwritten": caller}
    out: dict = {"recall": {}, "recall_no_encoder": {}, "recall_floor": {}}
    for split in ("val", "test"):
        sources = {name: parts[split] for name, parts in splits.items()}
        if split == "test":
            sources |= unseen
        for key, mode in (("recall", "full"), ("recall_no_encoder", "no_encoder"), ("recall_floor", "floor")):
            table = {}
            for name, rows in sources.items():
                row = {k: _recall(rows, k, mode) for k in ("self_harm", "threat", "abuse")}
                table[name] = {k: v for k, (v, n) in row.items() if n} | {"n": {k: n for k, (_, n) in row.items() if n}}
            out[key][split] = table
        users = risk_data.cssrs_users(split)
        for lab in ("self_harm", "benign"):
            us = [posts for label, posts in users.values() if label == lab]
            out.setdefault("cssrs_by_user", {})[f"{split}_{lab}_flagged"] = (
                rate([any(risk_kinds(posts)) for posts in us]), len(us))
    olid = risk_data.unseen_source("olid")
    out["recall"]["test"]["olid_unlicensed"] = {"abuse": _recall(olid, "abuse", "full")[0]}
    # flagged or asked: the welfare check's share of each held-out source's rows
    with_check = {}
    tests = {name: parts["test"] for name, parts in splits.items()} | unseen
    for name, rows in tests.items():
        for k in ("self_harm", "threat"):
            sel = [t for t, lab in rows if lab == k]
            if sel:
                with_check[f"{name}.{k}"] = rate([bool(v.kind) or bool(v.concern) for v in risk_verdicts(sel)])
    out["risk_recall_with_check"] = with_check | {"worst": min(with_check.values())}
    fresh = {"self_harm": CALLER_SELF_HARM_FRESH, "threat": CALLER_THREAT_FRESH}
    out["caller_fresh"] = {
        **{f"recall.{k}": flagged_rate(v) for k, v in fresh.items()},
        **{f"recall_with_check.{k}": rate([bool(x.kind) or bool(x.concern) for x in risk_verdicts(v)])
           for k, v in fresh.items()},
        "lookalike_fpr": flagged_rate(CALLER_LOOKALIKE_FRESH),
        "lookalike_check_rate": rate(checked(CALLER_LOOKALIKE_FRESH)),
        "n": {"self_harm": len(CALLER_SELF_HARM_FRESH), "threat": len(CALLER_THREAT_FRESH),
              "lookalike": len(CALLER_LOOKALIKE_FRESH)},
    }
    # worst over every source with self-harm or threat positives (held-out), and per kind
    for key, table in (("risk_recall", "recall"), ("risk_recall_no_encoder", "recall_no_encoder")):
        per = {f"{name}.{k}": v for name, row in out[table]["test"].items()
               for k, v in row.items() if k in ("self_harm", "threat")}
        out[key] = per | {"worst": min(per.values())}

    service = risk_data.service_text()
    looks = {
        "xstest_safe_test": [t for t, lab in splits["xstest"]["test"] if lab == "benign"],
        "twitter_lookalikes_unlicensed": risk_data.twitter_lookalikes(),
        "banking77_test": service["banking77_test"], "clinc150_test+oos": service["clinc150_test"],
        "caller_lookalike": CALLER_LOOKALIKE,
    }
    n = sum(map(len, looks.values()))
    for key, mode in (("risk_fpr_lookalike", "full"), ("risk_fpr_lookalike_no_encoder", "no_encoder")):
        fps = {name: [t for t, k in zip(texts, risk_kinds(texts, mode)) if k] for name, texts in looks.items()}
        out[key] = {"all": round(sum(map(len, fps.values())) / n, 5), "n": n} | {
            name: rate([t in fps[name] for t in texts]) for name, texts in looks.items()}
        if mode == "full":
            out["risk_check_rate_lookalike"] = {name: rate(checked(texts)) for name, texts in looks.items()}
            out["risk_check_texts"] = {name: [t[:100] for t, c in zip(texts, checked(texts)) if c][:8]
                                       for name, texts in looks.items() if any(checked(texts))}
            out["risk_fp_texts"] = {name: [t[:100] for t in v[:8]] for name, v in fps.items() if v}
            # the floor's share: hits no model can veto ("i want to die", "kill myself")
            out["risk_fp_floor"] = {name: sum(bool(k) for k in risk_kinds(v, "floor")) for name, v in fps.items()}
    other = {"hatecheck_benign_test": [t for t, lab in splits["hatecheck"]["test"] if lab == "benign"],
             "openai_benign_test": [t for t, lab in splits["openai_moderation"]["test"] if lab == "benign"],
             "cssrs_supportive_test": [t for t, lab in splits["cssrs_reddit"]["test"] if lab == "benign"],
             "olid_benign_unlicensed": [t for t, lab in olid if lab == "benign"],
             "caller_complaint": CALLER_COMPLAINT}
    out["risk_fpr_other"] = {name: flagged_rate(texts) for name, texts in other.items()}
    # Per final: the risk model given the final's embedding (the Route gate's, from the
    # shell's cache, as in a live call); and apart, what encoding a final costs when no
    # route gate shares it (single text, one BLAS thread).
    texts = service["banking77_test"][:1000]
    embs = risk_embed.embed(texts)
    t0 = time.perf_counter()
    for t, e in zip(texts, embs):
        assess_risk(t, embedding=e)
    out["risk_final_us_mean"] = round((time.perf_counter() - t0) / len(texts) * 1e6, 1)
    from threadpoolctl import threadpool_limits

    enc = risk_embed.encoder()
    with threadpool_limits(1):
        for t in texts[:20]:
            enc.encode_one(risk_embed.shaped(t))
        t0 = time.perf_counter()
        for t in texts[:200]:
            enc.encode_one(risk_embed.shaped(t))
    out["risk_final_encode_us_mean"] = round((time.perf_counter() - t0) / 200 * 1e6, 1)
    return out


def welfare_band(offsets: tuple[float, ...] = (0.5, 0.75, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 2.0)) -> dict:
    """How ``risk.WELFARE_CHECK_BELOW`` is chosen, on the licensed sets' *validation* split only:
    per band width (log-odds under the self-harm threshold), how many plain service lines and
    written look-alikes would be asked, and the self-harm recall flagged or asked. The band is
    the widest with at most 1 in 1,000 service lines and 5% of look-alikes asked."""
    import numpy as np
    import risk_templates

    from turngate.gates.guard.risk import explained, load_risk_head, load_risk_model

    model, head = load_risk_model(), load_risk_head()
    splits = risk_data.licensed_splits()

    def under(texts: list[str]) -> np.ndarray:
        """How far under the self-harm threshold each final is; -inf when flagged or explained."""
        vs = risk_verdicts(texts)
        E = risk_embed.embed([model_words(t) for t in texts])
        return np.array([-np.inf if v.kind or explained(t) else
                         head.log_odds(model, model_words(t), e)["self_harm"] - head.thresholds["self_harm"]
                         for t, v, e in zip(texts, vs, E)])

    service = risk_data.service_text()["val"]
    look = risk_templates.VAL_LOOKALIKE + [t for n in ("xstest", "openai_moderation")
                                           for t, lab in splits[n]["val"] if lab == "benign"]
    pos = {n: [t for t, lab in parts["val"] if lab == "self_harm"] for n, parts in splits.items()}
    pos = {n: v for n, v in pos.items() if v}
    u_service, u_look = under(service), under(look)
    u_pos = {n: (under(v), np.array(risk_kinds(v)) != "") for n, v in pos.items()}
    rows = []
    for x in offsets:
        rows.append({"below": x, "service_asked": int((u_service >= -x).sum()),
                     "lookalike_asked": int((u_look >= -x).sum()),
                     **{f"{n}.self_harm": round(float((f | (u >= -x)).mean()), 4) for n, (u, f) in u_pos.items()}})
    chosen = max((r["below"] for r in rows if r["service_asked"] <= len(service) / 1000
                  and r["lookalike_asked"] <= 0.05 * len(look)), default=None)
    return {"n": {"service": len(service), "lookalike": len(look), **{n: len(v) for n, v in pos.items()}},
            "flagged": {n: round(float(f.mean()), 4) for n, (_, f) in u_pos.items()},
            "grid": rows, "chosen": chosen, "shipped": WELFARE_CHECK_BELOW}


def spoken_risk(policy_file: str | None = None) -> dict:
    """The hand-written caller risk lines (both samples) and look-alikes as the embedded stack
    hears them (``heard.Heard``: three flite voices, the phone path, the gateway's recogniser),
    each a fresh call's final through the live gate pipeline (``policy_cli.Evaluator``, with its
    partials): flagged (the guard escalates), asked (the welfare check), against the same lines
    typed. Reads what a caller in distress gets from the default stack, recogniser included;
    ``requests`` (``caller_requests``, ordinary opening requests) is what a recogniser that
    hears risk words where there are none would cost."""
    import caller_requests
    from heard import VOICES, Heard

    from turngate.policy import load_policy
    from turngate.policy_cli import Evaluator

    ev, heard = Evaluator(load_policy(policy_file)), Heard(policy_file)
    sets = {"self_harm": CALLER_SELF_HARM, "self_harm_fresh": CALLER_SELF_HARM_FRESH, "threat": CALLER_THREAT,
            "threat_fresh": CALLER_THREAT_FRESH, "lookalike": CALLER_LOOKALIKE, "lookalike_fresh": CALLER_LOOKALIKE_FRESH,
            "requests": [t for t, _ in caller_requests.half("all")]}

    def outcome(final: str, partials: list[str]) -> str:
        for p in partials:
            ev.evaluate(p, final=False, auth=False)
        return ev.evaluate(final, final=True, auth=False)["guard"]["outcome"]

    out: dict = {"n": {k: len(v) for k, v in sets.items()}, "voices": list(VOICES)}
    for name, texts in sets.items():
        typed = [outcome(t, []) for t in texts]
        said = [(t, v, *heard(t, v)) for t in texts for v in VOICES]
        spoken = [outcome(final, partials) for _, _, final, partials in said]
        if name.startswith(("lookalike", "requests")):
            out[f"spoken.{name}.hits"] = [f"{v}: {t} -> {final!r} ({o})" for (t, v, final, _), o in zip(said, spoken)
                                          if o in ("escalate", "check")]
        out[f"typed.{name}.flagged"] = rate([o == "escalate" for o in typed])
        out[f"typed.{name}.asked"] = rate([o == "check" for o in typed])
        out[f"spoken.{name}.flagged"] = rate([o == "escalate" for o in spoken])
        out[f"spoken.{name}.asked"] = rate([o == "check" for o in spoken])
    out["spoken_wer"] = round(heard.errors / max(heard.words, 1), 4)
    return out


def abuse_margins() -> dict:
    """How ``risk.ABUSE_UNAIMED_OVER`` is chosen, on the licensed sets' *validation* split only:
    among the rows the models call abuse with no one named in them (``at_a_person`` false),
    how far past the abuse threshold (log-odds) the benign rows reach at most and the abuse
    rows start at least, with the encoder and without it. The threshold sits in that gap."""
    from turngate.gates.guard.risk import load_risk_head, load_risk_model
    from turngate.gates.guard.risk_senses import at_a_person

    model, head = load_risk_model(), load_risk_head()
    rows = [(t, lab) for parts in risk_data.licensed_splits().values() for t, lab in parts["val"]
            if not at_a_person(t)]
    embs = risk_embed.embed([model_words(t) for t, _ in rows])
    out: dict = {}
    for view in ("encoder", "no_encoder"):
        over: dict[str, list[float]] = {"benign": [], "abuse": []}
        for (t, lab), e in zip(rows, embs):
            words = model_words(t)
            kind, p = model.classify(words) if view == "no_encoder" else head.classify(model, words, e)
            if kind == "abuse" and lab in over:
                over[lab].append((model if view == "no_encoder" else head).over("abuse", p))
        out[view] = {"benign_max": round(max(over["benign"], default=float("nan")), 2),
                     "abuse_min": round(min(over["abuse"], default=float("nan")), 2),
                     "n": {k: len(v) for k, v in over.items()}}
    return out


def secrets() -> dict:
    """CREDENTIAL findings (PINs, passcodes, passwords, security answers): on the hand-written
    slot answers that name one (recall), and on benign service text, where every hit must be
    a secret being read out (Banking77 and CLINC150 test, the ABCD customer turns, the
    complaint set). The hits on service text are listed, for a reader to judge."""
    def found(t: str) -> bool:
        return any(f.type == "CREDENTIAL" for f in detect(t).findings)

    named = [t for t in CALLER_SLOT_ANSWERS if any(w in t for w in _NAMES_A_SECRET)]
    benign = service_sets()
    hits = {name: [t for t in texts if found(t)] for name, texts in benign.items()}
    return {"credential_recall_slot_answers": rate(list(map(found, named))), "slot_answers_naming_one": len(named),
            "credential_hits_on_service_text": {name: len(v) for name, v in hits.items()}
            | {"n": sum(map(len, benign.values()))},
            "credential_hit_texts": [t for v in hits.values() for t in v]}


# The words that name a secret in CALLER_SLOT_ANSWERS (the rest name other fields).
_NAMES_A_SECRET = ("pin", "pass", "memorable", "maiden", "security question", "security answer",
                 "secret", "one time", "texted", "banking code", "access code")


def floor_cost(repeats: int = 5) -> dict:
    """What the risk floor costs a partial: ``detect_risk`` on every word-by-word partial of
    Banking77 and CLINC150 test (service speech, where it almost never fires), mean us per
    partial, best of ``repeats``; and the share of partials with a trigger word (those run
    the pattern scan). Run beside an older tree on the same machine: absolute figures move."""
    from turngate.gates.guard.risk import TRIGGER_WORDS, WORD_RE

    service = risk_data.service_text()
    parts = [" ".join(ws[:k]) for t in service["banking77_test"] + service["clinc150_test"]
             for ws in [t.split()] for k in range(1, len(ws) + 1)]
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for p in parts:
            detect_risk(p)
        best = min(best, (time.perf_counter() - t0) / len(parts) * 1e6)
    scanned = sum(not TRIGGER_WORDS.isdisjoint(WORD_RE.findall(p.lower())) for p in parts)
    return {"partials": len(parts), "floor_us_mean": round(best, 2), "scanned_share": round(scanned / len(parts), 4)}
