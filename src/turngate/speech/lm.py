"""A small domain language model for the embedded recogniser, built at start-up.

pocketsphinx's general English trigram model spreads its probability over
130k words, so on a phone line it hears "I want to change my appointment" as
any of a dozen sound-alikes. The gateway knows what callers say: the policy's
route examples and the agent's own prompts. We count trigrams over those
phrases (plus a base list of contact-centre answers: yes/no, digits, dates,
times, backchannels, "stop", "wait") and smooth with interpolated absolute
discounting. At the unigram level the domain distribution is interpolated
with the top-K words of the general model (weight ``general_weight``), so an
unexpected word still has a path; the result is written as ARPA text, which
pocketsphinx loads directly.

Words missing from CMUdict get a pronunciation from flite's letter-to-sound
rules (the same lexicon family, mapped onto the acoustic model's phone set).
"""

from __future__ import annotations

import math
import re
import subprocess
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "BASE_PHRASES", "normalize", "phrases_in", "build_arpa", "flite_pronunciations", "read_cmudict",
]

# Generic things callers say on any contact-centre line; the policy adds its routes' examples.
BASE_PHRASES: tuple[str, ...] = (
    "yes", "no", "yeah", "yep", "nope", "yes please", "no thanks", "no thank you", "that's right",
    "that's correct", "that's wrong", "no that's wrong", "correct", "right", "okay", "ok", "sure",
    "uh huh", "mm hmm", "hmm", "um", "uh", "i see", "got it", "all right", "alright",
    "stop", "wait", "hold on", "hang on", "wait a second", "sorry", "excuse me", "actually",
    "can you repeat that", "say that again", "what did you say", "i didn't catch that",
    "thank you", "thanks", "thanks a lot", "goodbye", "bye", "hello", "hi", "good morning",
    "i want to speak to a person", "can i talk to a human", "agent", "representative",
    "i don't know", "i'm not sure", "never mind", "that's all", "nothing else",
    "my name is john smith", "my account number is one two three four five six",
    "my date of birth is the fourth of july nineteen eighty", "my phone number is",
    "zero one two three four five six seven eight nine oh double",
    "monday tuesday wednesday thursday friday saturday sunday",
    "today tomorrow next week this week the morning the afternoon the evening",
    "january february march april may june july august september october november december",
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth",
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty",
    "forty fifty sixty seventy eighty ninety hundred thousand dollars cents",
    "at ten in the morning", "at three thirty in the afternoon", "on tuesday at two o'clock",
    "can we do friday instead", "is there anything earlier", "what about next monday",
)

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen " \
        "fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _number_words(n: int) -> list[str]:
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    if n < 1000:
        return [_ONES[n // 100], "hundred"] + (_number_words(n % 100) if n % 100 else [])
    return [w for d in str(n) for w in _number_words(int(d))]


_TOKEN = re.compile(r"\d+|[a-z]+(?:'[a-z]+)*")


def normalize(text: str) -> list[str]:
    """Lower-case spoken-form words: digits spelled out, punctuation dropped."""
    text = text.lower().replace("&", " and ").replace("%", " percent ").replace("$", " dollars ")
    words: list[str] = []
    for tok in _TOKEN.findall(text):
        words.extend(_number_words(int(tok)) if tok.isdigit() else [tok])
    return words


def phrases_in(tree: object, keys: Sequence[str] = ("examples", "phrases", "prompts")) -> list[str]:
    """Every string found under any of ``keys`` anywhere in a parsed YAML/JSON tree.

    Lets the engine take the policy's route examples (and an agent file's
    prompts) without depending on either schema.
    """
    found: list[str] = []

    def walk(node: object, take: bool) -> None:
        if isinstance(node, str):
            if take:
                found.append(node)
        elif isinstance(node, Mapping):
            for k, v in node.items():
                walk(v, take or k in keys)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v, take)

    walk(tree, False)
    return found


def build_arpa(
    sentences: Iterable[Sequence[str]],
    *,
    general_unigrams: Mapping[str, float] | None = None,
    general_weight: float = 0.3,
    discount: float = 0.5,
) -> str:
    """Trigram ARPA text from word sequences.

    ``general_unigrams`` maps extra words to probabilities (any scale; they are
    renormalised) that get ``general_weight`` of the unigram mass.
    """
    uni: Counter[str] = Counter()
    ctx_counts: list[dict[tuple[str, ...], Counter[str]]] = [defaultdict(Counter), defaultdict(Counter)]
    for words in sentences:
        seq = ["<s>", *words, "</s>"]
        for i in range(1, len(seq)):
            uni[seq[i]] += 1
            ctx_counts[0][(seq[i - 1],)][seq[i]] += 1
            if i >= 2:
                ctx_counts[1][(seq[i - 2], seq[i - 1])][seq[i]] += 1
    if not uni:
        raise ValueError("no sentences to build a language model from")
    total = sum(uni.values())
    general = {w: p for w, p in (general_unigrams or {}).items() if p > 0 and w not in ("<s>", "</s>")}
    gw = general_weight if general else 0.0
    gsum = sum(general.values()) or 1.0
    vocab = sorted(set(uni) | set(general))
    p1 = {w: (1 - gw) * uni[w] / total + gw * general.get(w, 0.0) / gsum for w in vocab}

    def p2(v: str, w: str) -> float:
        # Bigram probability, backing off to the unigram when (v, w) was never seen.
        p = probs[0].get((v, w))
        return p if p is not None else bows[0].get((v,), 1.0) * p1[w]

    # probs[k][(ctx..., w)] = interpolated prob of a seen (k+2)-gram; bows[k][ctx] its context's backoff.
    probs: list[dict[tuple[str, ...], float]] = [{}, {}]
    bows: list[dict[tuple[str, ...], float]] = [{}, {}]
    for k in range(2):
        for ctx, followers in ctx_counts[k].items():
            c = sum(followers.values())
            gamma = discount * len(followers) / c
            seen_mass = lower_mass = 0.0
            for w, n in followers.items():
                lower = p1[w] if k == 0 else p2(ctx[1], w)
                p = max(n - discount, 0) / c + gamma * lower
                probs[k][ctx + (w,)] = p
                seen_mass += p
                lower_mass += lower
            bows[k][ctx] = max(1.0 - seen_mass, 1e-12) / max(1.0 - lower_mass, 1e-12)

    def lg(x: float) -> str:
        return f"{math.log10(x):.6f}"

    lines = ["\\data\\", f"ngram 1={len(vocab) + 1}", f"ngram 2={len(probs[0])}",
             f"ngram 3={len(probs[1])}", "", "\\1-grams:"]
    lines.append(f"-99.000000\t<s>\t{lg(bows[0].get(('<s>',), 1.0))}")
    for w in vocab:
        bo = bows[0].get((w,))
        lines.append(f"{lg(p1[w])}\t{w}" + (f"\t{lg(bo)}" if bo is not None else ""))
    lines += ["", "\\2-grams:"]
    for (u, w), p in sorted(probs[0].items()):
        bo = bows[1].get((u, w))
        lines.append(f"{lg(p)}\t{u} {w}" + (f"\t{lg(bo)}" if bo is not None else ""))
    lines += ["", "\\3-grams:"]
    for (u, v, w), p in sorted(probs[1].items()):
        lines.append(f"{lg(p)}\t{u} {v} {w}")
    lines += ["", "\\end\\", ""]
    return "\n".join(lines)


def read_cmudict(path: str) -> dict[str, list[str]]:
    """word -> pronunciations (alternates ``word(2)`` folded in)."""
    prons: dict[str, list[str]] = defaultdict(list)
    with open(path, encoding="utf-8") as f:
        for line in f:
            word, _, phones = line.strip().partition(" ")
            if phones:
                prons[word.split("(", 1)[0]].append(phones.strip())
    return prons


_FLITE_TO_CMU = {"ax": "AH", "axr": "ER"}


def flite_pronunciations(words: Sequence[str], *, binary: str = "flite") -> dict[str, str]:
    """Pronunciations for out-of-dictionary words from flite's letter-to-sound rules.

    One flite run speaks each word as its own sentence; the pauses flite puts
    between sentences split the printed phone string back into words.
    """
    if not words:
        return {}
    out = subprocess.run(
        [binary, "-voice", "kal", "-ps", "-t", " ".join(w + "." for w in words), "none"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    groups, cur = [], []
    for ph in out.split():
        if ph == "pau":
            if cur:
                groups.append(cur)
            cur = []
        else:
            cur.append(_FLITE_TO_CMU.get(ph, ph.upper()))
    if cur:
        groups.append(cur)
    if len(groups) != len(words):
        # A word flite reads as several sentences, or none: pronounce one by one instead.
        return {w: p for w in words for p in flite_pronunciations_one(w, binary)}
    return {w: " ".join(g) for w, g in zip(words, groups)}


def flite_pronunciations_one(word: str, binary: str = "flite") -> list[str]:
    out = subprocess.run([binary, "-voice", "kal", "-ps", "-t", word, "none"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    phones = [_FLITE_TO_CMU.get(p, p.upper()) for p in out.split() if p != "pau"]
    return [" ".join(phones)] if phones else []
