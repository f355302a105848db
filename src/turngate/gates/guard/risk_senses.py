"""When a risk floor hit is not the caller's own risk: the words around it.

The floor's patterns (``risk.RISK``) find phrases; this module reads the words next to
a hit and says when it is someone else's ("people tell me to kill myself"), negated ("I
don't want to die"), an idiom ("the hill I want to die on", "I'll shoot you an email"),
or the everyday sense of the same words on a service line: an injury told as an accident
(an insurance claim), a relative's overdose (a bereavement), ending one's life
*insurance*, going on *with* a complaint, an attorney's access to an account. What the
words *after* a phrase decide is a pattern fragment here (``LIFE_COMPOUND``, ...) that
``risk.RISK`` puts in a negative lookahead; what needs the words before is ``not_mine``.
A hit set aside is left to the models on the final, never cleared for good; every rule keeps
the risky reading of the same words (intent, "on purpose", "with pills", "in this world")
a hit, and the tests hold both sides.
"""

from __future__ import annotations

import re

__all__ = ["AUTHORITY", "A_PLACE", "GONE_ON_WITH", "LIFE_COMPOUND", "LITERAL", "POLICY_TERM", "PROVIDER",
           "THREATENED", "TRIVIAL_DOSE", "against_caller", "at_a_person", "not_mine", "threat_idiom"]


# A self-harm phrase is the caller's own statement unless the words just before it
# say otherwise. Negation is local: a "not", "don't", "won't", "never" governing that
# very verb phrase, with at most a few adverbs or a "want to" / "going to" between
# ("I don't want to die", "I won't kill myself", "I'd never really want to die"); a
# negation further back governs something else ("I don't know if I want to die",
# "I'm not okay, I want to die": both stay hits). "can't" is not a negation of intent
# ("I can't kill myself because of my kids" is ideation), nor is "not to" ("I'm
# trying not to kill myself" tells of the urge). Reported speech: someone else tells
# the caller to ("people tell me to kill myself", "he said I should kill myself", "I
# get told to kill myself"). Hyperbole stays a hit (an unnegated "I want to die"
# always reaches a person), except the old "makes me want to die", left to the models
# since issue 10, and the idiom "the hill I want to die on".
_NEGATOR = (r"(?:not|never|don't|dont|do not|doesn't|doesnt|does not|didn't|didnt|did not|won't|wont|will not|"
            r"wouldn't|wouldnt|would not)")
_BETWEEN = (r"(?:really|even|ever|actually|honestly|truly|seriously|necessarily|just|literally|want to|wanna|"
            r"wanted to|going to|gonna|plan(?:ning)? to|intend(?:ing)? to|mean to|try(?:ing)? to|have to|"
            r"need to|feel like|think i'd|think i'll|think i would|think i will|be)")
_NEGATED = re.compile(rf"\b{_NEGATOR} (?:{_BETWEEN} ){{0,3}}$|\b(?:makes?|made|making) me $", re.I)
_REPORTED = re.compile(
    r"\b(?:tell|tells|told|telling|ask|asks|asked|asking|want|wants|wanted|wanting|expects?|expected|expecting|"
    r"urg(?:e|es|ed|ing)|encourag(?:e|es|ed|ing)|dar(?:e|es|ed|ing)|beg|begs|begged|begging|forc(?:e|es|ed|ing)|"
    r"push(?:es|ed|ing)?|pressur(?:e|es|ed|ing)) (?:me|him|her|them|us|you|u) to (?:(?:go|just|and|go and) )*$|"
    r"\b(?:told|asked|dared|urged|encouraged) to (?:(?:go|just|and|go and) )*$|"
    r"(?<!\bi )\b(?:tell|tells|told|telling|say|says|said|saying) (?:me )?(?:that )?i should (?:(?:just|go) )*$",
    re.I)
# Command voices and intrusive thoughts are the caller's own risk, never reported speech:
# "the voices tell me to kill myself", "my mind keeps telling me to end it all".
_INNER_VOICE = re.compile(r"\b(?:voices?|my (?:own )?(?:mind|head|brain|thoughts?)|something (?:inside|in my head)|"
                          r"(?:a|this|the|these) (?:thought|urge)s?)\b", re.I)
# "want to die" with another subject: "people who want to die", "if you want to die".
_OTHER_SUBJECT = re.compile(
    r"\b(?:you|u|they|he|she|who|people|ppl|someone|somebody|everyone|everybody|nobody) "
    r"(?:(?:really|just|all|ever|even|still|also) )?$", re.I)
# An injury told as an accident is a claim, not self-harm: "I cut myself on the broken glass
# in your store", "I hurt myself at work", "I fell and hurt myself", "I accidentally cut
# myself", "cut myself a slice of cake". Only "hurt / harm / cut myself" is read so; the
# words that make it self-harm stay hits ("on purpose", "on my arms", "again", "with a
# razor"), and the models still read every final the floor leaves.
# Accident objects only: "on the bathroom floor" or "at my house" is where self-harm
# happens as often as an accident, so neither sets a hit aside.
_ACCIDENT_AFTER = re.compile(
    r"(?: (?:badly|quite badly|really badly|pretty badly|slightly))?"
    r" (?:by accident|accidentally|shaving|cooking|chopping|slicing|opening|gardening|playing|lifting|moving|laughing|"
    r"at work|at the gym|at (?:your|the|our) (?:store|shop|branch|office|station|site|premises)|"
    r"in (?:a|an|the) (?:fall|accident|crash|collision)|"
    r"a (?:slice|piece|wedge|bowl|plate) of\b|some (?:bread|cake|cheese|pie|meat)|"
    r"on (?:a|an|the|some|your|their|this|that)(?: broken| sharp| rusty| loose| wet| icy| metal| glass)?"
    r" (?:glass|bottle|tin|can|lid|nail|edge|corner|fence|wire|step|steps|stairs|staircase|escalator|door|shelf|"
    r"paper|box|parcel|package|packaging|machine|counter|ice|pavement|kerb|curb|pothole|trolley|ladder|"
    r"wet floor|shop floor|equipment)\b)",
    re.I)
_ACCIDENT_BEFORE = re.compile(
    r"\b(?:accidentally|by accident|(?:fell|fallen|slipped|tripped|stumbled|crashed)(?: over| down| up)? and)"
    r" (?:\w+ ){0,2}$", re.I)
_I_DID = re.compile(r"\bi(?:'ve| have| had| nearly| almost| just| actually| once| already)* $", re.I)
# Service-call senses of the floor's phrases, told by the words right after them: going on
# *with* a complaint, ending it all *with* a provider, not wanting to live *in* an area, a
# policy's self-harm *cover*, ending one's life *insurance*, taking out one's life *savings*,
# an overdose of coffee. These are negative lookaheads inside ``risk.RISK``'s patterns (the
# phrase does not match at all), as "can't go on" is already read; "going on with my life",
# "end it all with pills" and "I don't want to live with this pain" stay hits.
# A thing to go on with, never "with it", "with my life", "with the pain".
GONE_ON_WITH = (r" (?:with (?:this|that|the|your|my|our) (?!life\b|living\b|pain\b|suffering\b|"
                r"everything\b|anything\b)\w+|about\b|and on\b)")
# A provider, never a bare "with you" (the last person the caller speaks to).
PROVIDER = (r" with (?:you (?:guys|lot|people)\b|(?:your|this|that|the) (?:\w+ )?"
            r"(?:company|bank|provider|insurer|insurance|guys|lot|people|service|accounts?|contract|network|app|"
            r"firm|business|place|card)\b)")
# A place, never "in this world", "on this earth", "in pain".
A_PLACE = (r" (?:(?:in|at|near|next to) (?:this|that|the|a|my|our|their|his|her) (?:\w+ )?(?:area|town|city|"
           r"village|country|flat|house|home|apartment|street|neighbou?rhood|building|estate|county|road|block|"
           r"suburb|part of town)|here|there|abroad|alone|at home|with (?:him|her|them|my (?:parents|mum|mom|dad|"
           r"ex|family)))\b")
POLICY_TERM = r" (?:cover|covered|coverage|exclusions?|excluded|clauses?|claims?)\b"
# "life" as the first half of a compound: a life insurance policy, life savings.
LIFE_COMPOUND = (r" (?:insurance|assurance|cover|policy|policies|savings?|membership|plan|pension|annuity|"
                 r"fund|premiums?|protection|bond|isa|investment|subscription)\b")
# Too much of a food, a drink or a show is not an overdose: "I overdosed on coffee today".
TRIVIAL_DOSE = (r" (?:(?:so much|too much|all the|the) )?(?:coffee|caffeine|chocolate|sugar|sweets|candy|cake|"
                r"pizza|carbs|junk food|crisps|chips|netflix|tv|telly|christmas|sun|sunshine|memes|gossip)\b")
_POLICY_TOPIC = re.compile(r"\b(?:cover(?:ed|s)?|coverage|insured|exclud(?:e|es|ed)|exclusions?|policy|policies)"
                           r" (?:for |of |on |against )?(?:\w+ )?$", re.I)
# An injury meant is never an accident: "I'm going to hurt myself at work", "I want to cut myself".
_MEANT = re.compile(r"\b(?:want(?:ed|s)? to|wanna|going to|gonna|will|'ll|might|plan(?:ning)? to|"
                    r"thinking (?:about|of)|urges? to|feel like|tempted to|about to) (?:\w+ )?$", re.I)
# Someone else's overdose: "my brother died of an overdose", "after her overdose".
_OTHERS_OVERDOSE = re.compile(
    r"\b(?:(?:died|dying|dead|death|passed away|passed|lost (?:him|her|them|\w+))"
    r" (?:of|from|to|after|through|due to|because of)|his|her|their|your|"
    r"\b(?!(?:it|that|there|what|he|she|who|this|here|i)'s)\w+'s)"
    r" (?:an? |the )?(?:accidental |drug |heroin |opioid |fentanyl |suspected )?$", re.I)
# The idiom: "is this the hill I want to die on", "I want to die on this hill".
_HILL = re.compile(r"\bhills? (?:that |which )?(?:i|you|we|they|u) (?:\w+ )?$", re.I)
_ON_HILL = re.compile(r" on (?:this|that|the|a) hill\b", re.I)


# A threat's verb in an everyday idiom is not a threat: "I'll shoot you an email", "I'll
# burn you a copy" (send or make someone a thing), "I'll beat you to it / to the punch / at
# your own game", "I'm going to hurt her feelings", "I'll kill them with kindness". Each
# verb has its own idioms, read right after its object, so "I'll kill you at your office",
# "shoot you in the head", "beat you to death", "beat you up" and every bare "I'll kill
# you" stay hits.
_SENT = (r" (?:a|an|some|over|across|back)(?: quick| short| little| new| copy of| couple of)?"
         r" (?:e-?mails?|mails?|texts?|messages?|notes?|lines?|dms?|pms?|links?|copy|copies|cds?|dvds?|"
         r"quotes?|invoices?|letters?|reply|replies|response|questions?|call|ring|update|details|form|file)\b")
_FLOOD = r" with (?:questions|complaints|e-?mails|calls|letters|paperwork|messages|texts)\b"
_THREAT_IDIOM = {verb: re.compile(rx, re.I) for verb, rx in (
    ("shoot", _SENT), ("burn", _SENT),
    ("beat", r" (?:to it\b|to the punch|at (?:it|this|that|their|your|his|her|my|our|the|a)? ?(?:own )?"
             r"(?:game|chess|cards|poker|golf|tennis|pool|price|offer)s?\b)"),
    ("hurt", r" (?:feelings|chances|credit|score|business|reputation|pride|prospects)\b"),
    ("kill", r" with (?:kindness|complaints|emails|calls|questions|paperwork)\b"),
    ("attack", _FLOOD), ("bomb", _FLOOD),
)}


# Another person's account with a legal authority is a process, not a request for harm: a
# power of attorney, an executor, a deputy. The auth gate still checks that authority.
AUTHORITY = re.compile(
    r"\b(?:(?:lasting )?power of attorney|attorney|executor|executrix|administrator of|deputy(?:ship)?|probate|"
    r"bereavement|deceased|appointee|third[- ]party mandate|on (?:their|his|her) behalf|"
    r"(?:late|dead|passed) (?:mum|mom|mother|dad|father|husband|wife|partner|son|daughter|brother|sister|"
    r"nan|gran|grandma|grandad|grandfather|grandmother|aunt|uncle))\b", re.I)


def threat_idiom(text: str, m: re.Match[str]) -> bool:
    """Whether a threat hit ("i'll shoot you", "he said he'd shoot me") goes on as its
    verb's idiom ("... an email"); the verb may be inflected ("beating me to it")."""
    words = m[0].lower().split()
    verb = words[-2] if len(words) >= 2 else ""
    rx = next((rx for stem, rx in _THREAT_IDIOM.items() if verb.startswith(stem)), None)
    return bool(rx and rx.match(text, m.end()))


# What each idiom means, in words the models read literally ("I'll send you an email").
LITERAL = {"shoot": "send", "burn": "make", "beat": "pass", "hurt": "upset", "kill": "treat",
           "attack": "flood", "bomb": "flood"}


def not_mine(text: str, m: re.Match[str]) -> bool:
    """Whether the words around a self-harm hit negate it, make it someone else's, an
    accident, a topic or an idiom."""
    before = text[max(0, m.start() - 60):m.start()]
    if _NEGATED.search(before) or (_REPORTED.search(before) and not _INNER_VOICE.search(before)):
        return True
    hit = m[0].lower()
    if hit.endswith("myself") and hit.startswith(("hurt", "harm", "cut")):
        return not _MEANT.search(before) and bool(_ACCIDENT_BEFORE.search(before)
                                                  or _ACCIDENT_AFTER.match(text, m.end()))
    if hit == "overdose":
        return bool(_OTHERS_OVERDOSE.search(before))
    if hit.replace("-", " ") == "self harm":  # "does my policy cover self-harm": a topic
        return bool(_POLICY_TOPIC.search(before))
    if hit == "overdosed":  # the caller's own only: "I overdosed", not "my brother overdosed"
        return not _I_DID.search(before)
    if not hit.startswith(("want", "wanna")):
        return False
    after = text[m.end():m.end() + 20]
    return bool(_OTHER_SUBJECT.search(before) or _ON_HILL.match(after)
                or (_HILL.search(before) and after.lower().startswith(" on")))


# A caller who says someone threatens *them* ("my husband said he's going to kill me",
# "someone threatened to shoot me outside your branch", "my ex hits me") is a safeguarding
# call: the advisor must not read "the caller threatened staff". ``THREATENED`` is the floor
# for the plain disclosures: a threat reported with "threaten", a threat reported in
# someone's words ("he told me he'd kill me"), fear of it ("I'm scared my partner will hurt
# me") and violence told in the present ("my husband beats me"). Not: "my wife will kill me
# if this payment bounces" (no report: the hyperbole is left to the models), "the letter
# threatened me with court action" (no violence), "my son beats me at chess", "he hits me up
# every week", and a threat verb's idiom ("she said she'd shoot me a text", ``threat_idiom``).
_ME = (r"(?:me|us|my (?:kids|children|child|son|daughter|family|baby|babies|mum|mom|mother|dad|father|wife|"
       r"husband|partner|girlfriend|boyfriend))\b")
# a violent verb and its object, the caller or their family: "kill me", "hurt my kids", "break my legs"
_HARM_ME = (rf"(?:(?:kill|hurt|harm|beat|batter|hit|attack|stab|shoot|shot|strangl|chok|punch|kick|burn|rape|"
            rf"raping|murder)\w{{0,4}} {_ME}|break (?:my|our) (?:legs?|arms?|neck|face|jaw)\b)")
_THIRD = (r"(?:he|she|they|someone|somebody|(?:my|his|her|their|the|a|this|that|these|those|some|our) (?:\w+ ){0,2}?"
          r"(?:husband|wife|partner|ex|boyfriend|girlfriend|father|dad|stepdad|stepfather|mother|mum|mom|"
          r"son|daughter|brother|sister|landlord|neighbou?r|man|woman|guy|guys|people|person|gang|family|"
          r"uncle|aunt|cousin|flatmate|roommate|boss|carer|collectors?|loan shark))")
THREATENED = (
    rf"\bthreaten(?:s|ed|ing)? (?:(?:me|us) )?to (?:\w+ ){{0,2}}?{_HARM_ME}|"
    r"\bthreaten(?:s|ed|ing)? (?:me|us|my \w+) with (?:a |an |his |her |their )?"
    r"(?:knife|gun|knives|guns|weapon|bat|hammer|machete|acid|violence)\b|"
    r"\b(?:said|says|told (?:me|us)|tells (?:me|us)|swore|swears|texted|messaged|wrote)(?: that)? "
    r"(?:he|she|they)(?:'d| would|'ll| will|'s going to| is going to| was going to|'re going to| are going to|"
    rf" were going to|'s gonna| is gonna| was gonna) (?:\w+ )?{_HARM_ME}|"
    rf"\b(?:scared|afraid|frightened|terrified) (?:that )?{_THIRD}(?:'ll| will| is going to|'s going to| might| would|"
    rf"'d| is gonna|'s gonna) (?:\w+ )?{_HARM_ME}|"
    rf"\b{_THIRD}(?: (?:always|often|still|sometimes|keeps|kept|has been|have been|is|was))?"
    r" (?:hits|beats|hurts|attacks|chokes|strangles|punches|kicks|batters|abuses|hitting|beating|hurting|"
    r"attacking|choking|punching|kicking|abusing) (?:me|us)\b(?! (?:at|up|to it|in|on points))"
)
# The same disclosure in any words the models flagged as a threat: a third person, a violent
# verb, and the caller or their family as its object.
_AGAINST_CALLER = re.compile(rf"\b{_THIRD}\b[\w\s',]{{0,40}}?\b{_HARM_ME}", re.I)


def against_caller(text: str) -> bool:
    """Whether a threat the models found is one made *to* the caller (or their family) by
    someone else, as the caller tells it."""
    return bool(_AGAINST_CALLER.search(text))


# Asking how to kill or harm a person ("how do I kill somebody", "what's a good way of
# poisoning my husband", "where can I euthanize my rich grandparent"): a threat to others in
# the caller's own words. The object must be a person, not a person's thing, so "kill a
# Python process", "euthanize my sick dog", "exterminate the rats in my attic", "kill my
# wife's plants" are not hits. Left to the models: verbs with an everyday sense even before
# a person ("shoot", "beat", "hit", "hurt", "harm": "could I harm my baby by flying",
# "terminate an employee", "take out my friend"), and anything set in a game or a story
# ("kill someone in Call of Duty").
_ASK = (r"(?:how (?:do|can|could|would|should|might|to) (?:i |we |you |one |someone |a person )?|"
        r"(?:tell|show|teach) (?:me|us) how (?:to )?|(?:good|best|easiest|quickest|fastest|surest|safest|"
        r"simplest|cleanest|most effective) (?:way|ways|method|methods|means) (?:of |to )|"
        r"ways? (?:of |to )|where can (?:i|we) (?:go to )?|(?:can|could) (?:i|we) use to |help me |"
        r"i (?:want|need|plan|intend) to |"
        r"i'?m (?:going|planning|trying) to |i am (?:going|planning|trying) to )")
_HARM_VERB = (r"(?:kill|killing|murder|murdering|strangle|strangling|stab|stabbing|poison|poisoning|"
              r"suffocate|suffocating|smother|smothering|drown|drowning|behead|beheading|decapitate|"
              r"decapitating|torture|torturing|kidnap|kidnapping|abduct|abducting|assassinate|assassinating|"
              r"snipe|sniping|slaughter|slaughtering|massacre|massacring|annihilate|annihilating|obliterate|"
              r"obliterating|eradicate|eradicating|exterminate|exterminating|euthani[sz]e|euthani[sz]ing|"
              r"execute|executing|overpower|overpowering|maim|maiming|attack|attacking|assault|assaulting|"
              r"rape|raping|blow up|blowing up)")
_A_PERSON = (r"(?:(?:a|an|the|my|his|her|their|our|this|that|these|those|some|every|all|all the|as many|"
             r"the most|local|entire) )?(?:[\w'-]+ )?"
             r"(?:person|people|persons|someone|somebody|anyone|anybody|everyone|everybody|human|humans|"
             r"man|men|woman|women|girl|girls|boy|boys|child|children|kid|kids|baby|babies|toddler|"
             r"wife|husband|girlfriend|boyfriend|partner|ex|family|parents?|mother|mum|mom|father|dad|"
             r"brother|sister|son|daughter|grand(?:parent|mother|father|ma|pa)s?|granny|uncle|aunt|cousin|"
             r"neighbou?rs?|boss|co-?workers?|colleagues?|classmates?|teachers?|politicians?|president|"
             r"prime minister|mp|senator|officers?|police(?:man|men|woman|women)?|cops?|judge|landlord|"
             r"staff|customers?|agent|agents|crowd|audience|passengers?|students?)")
# A game, a story, a script: "how do I kill someone in Call of Duty", "for my crime novel, how
# would a nurse poison a patient".
_MAKE_BELIEVE = re.compile(
    r"\b(?:games?|gaming|video ?games?|call of duty|minecraft|fortnite|gta|roblox|skyrim|counter[- ]strike|"
    r"novels?|story|stories|books?|films?|movies?|plays?|scripts?|screenplays?|shows?|series|comics?|fiction|"
    r"fictional|characters?|writer|writing|author|campaign|role[- ]?play|rpg|dnd|d&d|dreams?|simulation)\b", re.I)


_DENIED_BEFORE = re.compile(rf"\b(?:{_NEGATOR}|no|nobody|none of|no one)\s+(?:[\w'-]+\s+){{0,2}}$", re.I)


def denied_or_quoted(text: str, m: re.Match[str]) -> bool:
    """Whether a wish of violence (``VIOLENCE_WISHED``) is denied ("no woman ought to be
    executed") or quoted ("banned for saying 'they should all be killed'")."""
    before = text[:m.start()]
    # the match may open with its own determiner slot: "No woman ought to ..."
    return bool(_DENIED_BEFORE.search(before + m[0].split()[0] + " ")) or before.count('"') % 2 == 1 or \
        before.count("\u201c") > before.count("\u201d")


def make_believe(text: str) -> bool:
    """Whether harm asked for or wished on a person (``HARM_A_PERSON``, ``VIOLENCE_WISHED``) is
    set in a game or a story."""
    return bool(_MAKE_BELIEVE.search(text))


# The person ends the phrase ("kill my boss without ...", "poison a person quickly"), so a
# compound is not a person: "kill a child process", "execute a customer order".
_PHRASE_END = (r"(?=\s*(?:$|[.,!?;:)\"]|(?:and|or|but|with|without|in|at|on|for|from|to|so|because|before|"
               r"after|when|while|if|who|whom|that|quickly|quietly|slowly|fast|today|tonight|tomorrow|now|"
               r"please|using|by|like|as|of|into|then|first|again|already|too|instead|here|there|properly|"
               r"painlessly|easily|safely|legally|myself|ourselves)\b))")
# Every word either pattern can turn on: the long patterns run only when one is there.
HARM_A_PERSON_WORDS = frozenset(re.findall(r"[a-z]+", _HARM_VERB.replace("[sz]", "s")) +
                                re.findall(r"[a-z]+", _HARM_VERB.replace("[sz]", "z")) + ["life"]) - {"up"}
HARM_A_PERSON = (rf"\b{_ASK}(?:\w+ )?{_HARM_VERB} {_A_PERSON}{_PHRASE_END}|"
                 rf"\b{_ASK}(?:\w+ )?(?:end|take|terminate) {_A_PERSON}'?s? life\b")


# Calling for violence against a person: "you lot deserve to be hanged", "bankers like you
# should be strung up", "your manager needs to be shot"; and against a branch or an office:
# "someone ought to torch that branch", "I'll burn your office down". A person or "you" must
# be the one it is wished on ("those old cards should be destroyed", "the weeds need to be
# killed off" are not), and the everyday senses are left out: "you should be shot of that
# contract" (rid of it), "hung up on", "hung out to dry", "beaten at your own game", "put
# down as the account holder", "taken out of the policy", and "must" ("you must be tortured
# by this hold music" says what the caller supposes, not what they want).
_WISHED_ON = (rf"(?:you|you lot|you people|you guys|you all|y'all|all of you|the (?:whole )?lot of you|"
              rf"(?:people|\w+) like you|your (?:\w+ )?(?:staff|manager|managers|boss|ceo|team|colleagues|"
              rf"people|family|kids|children|wife|husband|mother|mum|mom)|{_A_PERSON})")
_VIOLENCE_DONE = (r"(?:hanged|hung(?! up| out to dry)|strung up|shot(?! of\b| at\b| down\b)|killed(?! off\b)|"
                  r"stabbed|lynched|beaten(?: up\b|(?! (?:at|to|by)\b))|murdered|burned alive|burnt alive|"
                  r"set on fire|executed(?! as\b)|put down(?! (?:as|for|on)\b)|gassed(?! (?:about|for|that|to)\b)|"
                  r"slaughtered|tortured|beheaded|strangled|"
                  r"taken out (?:back|and shot)|shot dead|put against a wall|put up against a wall)")
_BUILDING = (r"(?:your|that|the|this|their|every) (?:\w+ )?(?:branch|branches|office|offices|bank|store|shop|"
             r"building|headquarters|hq|call cent(?:re|er)|depot)")
VIOLENCE_WISHED_WORDS = frozenset("""hanged hung strung shot killed stabbed lynched beaten murdered burned burnt
fire executed put gassed slaughtered tortured beheaded strangled taken torch torches burn burns firebomb petrol""".split())
VIOLENCE_WISHED = (
    rf"\b{_WISHED_ON} (?:all )?(?:should|ought to|deserves? to|needs? to) (?:all )?(?:be|get) {_VIOLENCE_DONE}\b|"
    rf"\b(?:i hope|hope|i want to see|i'?d like to see|i'?d love to see|i wish) {_WISHED_ON} "
    rf"(?:(?:all )?(?:gets?|is|are|were|was) )?{_VIOLENCE_DONE}\b|"
    r"\b(?:i'?ll|i will|i'?m going to|i am going to|i'?m gonna|gonna|someone should|somebody should|"
    r"someone ought to|somebody ought to|i hope someone|i hope somebody|i could|i want to|i should) (?:\w+ )?"
    rf"(?:(?:torch|torches|burn down|burns down|firebomb|petrol bomb|set fire to|sets fire to) {_BUILDING}|"
    rf"(?:burn|burns) {_BUILDING} (?:down|to the ground))\b")


# Abuse of the agent is aimed at a person: the one on the line ("you", "you people"), their
# colleagues or family ("your staff", "your mother"), someone else ("he is a scumbag", "these
# people"), or someone called a person-insult ("what a bunch of idiots"). Swearing at the
# situation is a frustrated caller, and a contact centre hears it all day: "this is a fucking
# joke", "fuck this bank", "your app is shit", "are you kidding me" (disbelief, not an insult).
# The models learnt the swear words; this says whether anyone is sworn at (``risk.assess_risk``
# still keeps abuse the models are very sure of: a slur names no one). Abuse only: a threat or
# self-harm is never cleared for its target.
_YOU = re.compile(r"\b(?:you|ya|u|yourself|yourselves|you're|youre|you've|you'll|youll|y'all|ur)\b", re.I)
_YOU_IDIOM = re.compile(
    r"\b(?:are|r) (?:you|u) (?:\w+ ){0,2}?(?:kidding|joking|serious|having a laugh)\b|"
    r"\byou(?:'ve| have)? (?:got|gotta|have) to be (?:\w+ )?(?:kidding|joking)\b|"
    r"\byou must be (?:\w+ )?(?:kidding|joking)\b|"
    r"\b(?:you know|you see|thank you|thank u|see you|if you ask me|mind you|would you believe)\b", re.I)
_YOUR_PEOPLE = re.compile(
    r"\byour (?:\w+ )?(?:staff|people|agents?|advisors?|advisers?|colleagues?|team|manager|boss|supervisor|"
    r"mother|mum|mom|mama|dad|father|wife|husband|sister|brother|family|kind|lot)\b", re.I)
# Someone else: a person named by a pronoun or as people ("he is a scumbag", "these people are vile").
_THIRD_PERSON = re.compile(
    r"\b(?:he|she|him|her|they|them|himself|herself|themselves|he's|she's|they're|people|women|men|guys?|"
    r"blokes?|lady|ladies|woman|man|folks?|everyone|somebody|someone)\b", re.I)
_INSULT = re.compile(
    r"\b(?:idiot|moron|imbecile|cretin|bitch|bastard|wanker|twat|cunt|dickhead|asshole|arsehole|prick|scum|"
    r"retard|clown|loser|muppet|tosser|dumbass|jackass|jerk|slut|whore|knob|bellend|numpty|creep|freak)"
    r"(?:s|es)?\b", re.I)


def at_a_person(text: str) -> bool:
    """Whether abusive words are aimed at someone, not at a thing or the situation."""
    if _INSULT.search(text) or _YOUR_PEOPLE.search(text) or _THIRD_PERSON.search(text):
        return True
    return bool(_YOU.search(_YOU_IDIOM.sub(" ", text)))


# The words that close a call ("thank you, goodbye", "ok good chatting, bye", "thanks, I
# appreciate it", "no, nothing else", "never mind"): said to the agent at the end of nearly
# every call. The risk models learnt farewells and thanks from goodbye notes ("I've said
# goodbye to everyone", "thank you for everything"), so a closing alone can come near the
# self-harm threshold; it is never a concern.
# Written from the closing formulas of service calls; the farewell of a caller at risk names
# someone or something beyond this call ("goodbye to everyone", "my last call") and is not one.
_CLOSING_PHRASE = (
    r"(?:ok(?:ay)?|alright|all right|right|great|perfect|lovely|brilliant|cool|fine|good|well|yes|yeah|yep|no|"
    r"yea|yup|sorry|never ?mind|no worries|no problem|nothing (?:else|more)|not today|"
    r"so|then|oh|ah|and|again|really|too|you too|that'?s (?:all|everything|it|great|lovely|perfect|fine|brilliant)|"
    r"that is all|thanks?|thank you|many thanks|cheers|ta|much appreciated|(?:i )?appreciate (?:it|that|your help)|"
    r"(?:ever )?so much|very much|a lot|for (?:that|this|the chat|your help|the help|all your help|"
    r"everything|calling|your time|now|(?:chatting|talking)(?: (?:to|with) (?:me|you))?)|"
    r"(?:it was )?(?:good|nice|lovely|great) (?:chatting|talking|to talk|speaking)(?: (?:to|with) you)?|"
    r"bye(?: bye| now| then)?|good ?bye|"
    r"see (?:you|ya)(?: later| soon)?|(?:talk|speak)(?: to you)? (?:later|soon)|take care|"
    r"have a (?:nice|good|great|lovely) (?:day|one|evening|night|weekend|afternoon))")
_CLOSING = re.compile(rf"^(?:{_CLOSING_PHRASE}\s*)+$", re.I)


def a_closing(text: str) -> bool:
    """Whether ``text`` is only the words that close a call."""
    words = " ".join(re.sub(r"[^\w' ]+", " ", text.lower()).split())
    return bool(words) and _CLOSING.match(words) is not None
