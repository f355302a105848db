"""Hand-written caller text for the risk model: how risk sounds on a service line, and
how the honest, frustrated caller who only sounds like it talks.

Written here (no line copied from any data set), because no licensed set has
passive self-harm said to a service agent, threats against staff in a contact
centre's framing ("I know where your office is"), or abuse of the agent itself
(see ``../shared/data/guard/risk/SOURCE.md``, "Coverage and gaps"). Training
only: the benchmark's caller sets (``bench/guard_risk.py``) were written
apart, with other wording.
"""

from __future__ import annotations

import itertools
import random

_OPEN = ["", "honestly ", "look ", "i just ", "to be honest ", "i mean ", "you know what, ", "sorry, ",
         "i'm sorry but ", "yeah ", "it doesn't matter, ", "the thing is "]

SELF_HARM = [
    "i don't see the point of going on", "i don't see the point in anything anymore",
    "everyone would be better off without me", "my family would be better off if i wasn't here",
    "i can't do this anymore", "i just want it all to stop", "i want to go to sleep and not wake up",
    "i won't be around much longer anyway", "i've been thinking about ending it",
    "i'm thinking of ending things", "there's no reason for me to keep going", "i feel like giving up on life",
    "nobody would even notice if i was gone", "nobody would miss me", "i'm done with living",
    "i have the pills ready", "i've written my goodbye letters", "i don't want to be here anymore",
    "what's the point of living like this", "i'm going to end it tonight", "this is my last call, i won't need the account",
    "i just want to disappear forever", "i keep thinking about killing myself", "i want to hurt myself",
    "i've been cutting again", "life isn't worth it anymore", "i'm a burden to everyone",
    "i'm not going to be around to pay it", "after today it won't matter, i won't be here",
    "i feel like there's no way out except ending it", "i've had enough of being alive",
    "i'm going to jump off the bridge", "i just want to die", "there's nothing left for me",
    "i can't see a future for myself", "i'd rather be dead than deal with this",
]
THREAT = [
    "you'd better watch your back", "i know where your office is", "i know where you work",
    "i know where you live", "i'm coming down there and someone's going to get hurt",
    "i'll be waiting for you outside the branch", "you'll be sorry when i get there",
    "i've got a gun and i'm not afraid to use it", "i'm going to hurt whoever answers the phone next",
    "i'll find out who you are and deal with you", "people like you get what's coming to them",
    "i'm going to come in and smash the place up", "someone at your branch is going to get hurt",
    "i'll burn your office down", "i'm going to kill the manager", "i'll make you pay for this personally",
    "you don't know who you're dealing with, i'll come for you", "i hope you die and i'll make sure of it",
    "next time i see your staff they'll regret it", "i'll put you in the hospital",
    "i'm going to bring a knife to your store", "i'll beat the living daylights out of you",
    "i'm going to shoot up your branch", "watch yourself when you leave work tonight",
    "i'll come to your house", "i will hurt you", "i'm going to strangle you",
    "your family won't be safe", "i'll track you down", "something bad is going to happen to your staff",
]
ABUSE = [
    "you stupid useless bot", "you're a fucking idiot", "shut up you moron", "you are worthless",
    "you're the dumbest thing i've ever talked to", "listen you brainless piece of junk",
    "you're a pathetic excuse for an assistant", "go to hell you stupid machine", "screw you, you idiot",
    "you're a waste of space", "fuck you", "you useless piece of shit", "you stupid bitch",
    "i hope you rot", "you're retarded", "you're a complete moron", "you ugly stupid cow",
    "what a fucking joke you are", "you dumb bastard", "eat shit",
]
LOOKALIKE = [
    "this is killing me", "this wait is killing me", "my back is killing me", "these fees are killing me",
    "i could kill for a coffee", "i'm just killing time until the branch opens", "i'm dying to know",
    "i'm going to cancel unless you fix this", "i'll switch to another provider if you don't lower my price",
    "cancel my account", "i want to end my contract", "end my subscription today", "terminate my contract",
    "my phone died halfway through the call", "the battery is dead", "my card is dead", "the line went dead",
    "shoot me an email", "can you shoot me a text", "my boss will kill me if i miss this payment",
    "my wife is going to kill me", "i nearly died when i saw the bill", "i'm dead tired", "i'm sick of waiting",
    "this is ridiculous, i want to speak to someone", "i'm fed up with your service", "this is a joke",
    "i'm so angry right now", "you people are hopeless", "your app is useless", "this is the worst service ever",
    "i'll take my business elsewhere", "i'm going to report you to the ombudsman", "i'll be leaving a bad review",
    "i'm going to complain to the regulator", "i'll see you in court", "my lawyer will be in touch",
    "i'm going to close all my accounts", "i give up on this app", "i can't take much more of this hold music",
    "i can't do this on the website", "i can't go on paying these fees", "there's no point calling you",
    "what's the point of having an account", "i don't see the point of the premium plan",
    "everyone would be better off with a simpler bill", "i'm going to lose my mind", "it's a nightmare",
    "i'm going to hurt my credit score if this isn't fixed", "the last agent was useless",
    "i'm going to blow my budget", "i'm drowning in bills", "it's a killer deal", "kill the old card please",
    "please end the call", "end the session", "stop the payment", "i want to die my hair", "i'd die for that rate",
    "the package was dead on arrival", "my father passed away and i need to close his account",
    "my husband died last month", "i need a bereavement form", "i'm calling about my late mother's account",
    "where is your office, can i come in to sign the forms", "i know where you are, i'll drop by the branch",
    "watch out for the payment on friday", "i'll be back tomorrow", "i'll get you the paperwork",
    "i'm going to hit the gym after this", "can you hit the refresh button", "i'll come down to the branch",
    "the game last night was sick", "i'm suffering from a cold", "i hurt my back lifting boxes",
    "i cut my finger and dropped my card", "how do i kill the process", "how do i terminate the app",
    # hyperbole as people write and say it (added after reading the benchmark's false positives
    # on the twitter look-alikes; none copied)
    "ugh this homework is killing me", "mondays make me want to die", "this heat is going to kill me",
    "if i hear that song one more time i'll kill myself lol", "i'm literally dying of laughter",
    "my mum is going to kill me for being late", "i could just die of embarrassment", "i'm dead lol",
    "that joke killed me", "i'd rather die than wear that", "the exam nearly killed me",
    "my legs are dead after the run", "this traffic makes me want to scream", "kill me now, another meeting",
    "i was dying to tell you", "this cold is the death of me", "my plants keep dying",
    "the show killed it last night", "we killed it at the gig", "that workout destroyed me",
    "i want to die laughing at this video", "my phone is about to die", "i'm so tired i could sleep forever",
    "i hate mondays so much", "i'm so done with this week", "i give up on my diet",
    "people who talk in cinemas should be shot, honestly", "i'm going to murder this pizza",
    # second person, not abuse: "you're X" is how callers thank, agree and correct
    "you're right", "you are right about that", "you're the best", "you're very kind", "you are a star",
    "you've been really helpful", "you're wrong, it was tuesday", "no, you've got that wrong", "you're a lifesaver",
    "you are so patient, thank you", "you're not listening to me", "you're a robot aren't you", "you sound tired",
    "you're quick", "you must be busy today", "you misheard me", "you are my bank, you should know",
    "are you a real person", "you did a great job", "thank you so much", "cheers mate", "absolutely",
    "yes definitely", "of course", "you're joking", "you're kidding me", "you're having a laugh",
]


def positives(rng: random.Random) -> list[tuple[str, str]]:
    """(text, kind) with openers, lower-cased as a recogniser writes."""
    out: list[tuple[str, str]] = []
    for kind, lines in (("self_harm", SELF_HARM), ("threat", THREAT), ("abuse", ABUSE)):
        for line, op in itertools.product(lines, _OPEN):
            if rng.random() < 0.35 or op == "":
                out.append((op + line, kind))
    return out


def negatives(rng: random.Random) -> list[str]:
    return [op + line for line, op in itertools.product(LOOKALIKE, _OPEN) if rng.random() < 0.35 or op == ""]
