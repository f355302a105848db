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


# Second batch (gates2, for the sentence-encoder head): more ways the same things are said,
# written without looking at the benchmark's caller sets. Passive statements and veiled
# threats lean on meaning, not on words, which is what the encoder view is for.
SELF_HARM_MORE = [
    "i don't think i'll still be here next month", "there's no point paying it, i won't be alive to see it",
    "i've decided this is the end for me", "i've said my goodbyes to everyone",
    "i just want the pain to stop for good", "i'm tired of existing", "i wish i could just not wake up tomorrow",
    "i'm not going to make it through the night", "i've been stockpiling my medication",
    "i'm standing on the edge right now", "i don't want to carry on living like this",
    "it would be easier for everyone if i just disappeared", "my kids would be better off with the insurance money",
    "i can't keep going, i've got nothing left", "i've given away all my things", "no one would care if i died",
    "i want to end my life", "i keep thinking about driving into a wall", "i've been hurting myself again",
    "i feel like i'm just a burden and i should go", "i'm writing a note for my family",
    "what's the use of living when you owe this much", "i can't face another day", "i wish i was dead",
    "i don't want to wake up anymore", "tonight's the night i finally end it", "i'm ready to go, i've had enough",
    "i want it to be over, all of it, my life", "i took a load of pills before i called",
    "there's a rope in the garage and i keep looking at it", "i'm not scared of dying anymore",
    "i've lost everything, there's no reason to stay", "i think about dying every day",
    "you won't have to chase me for the money, i'll be gone", "this debt is going to be the end of me, literally, i mean it",
    "i'd be better off dead honestly", "i'm thinking of taking my own life", "i just want to sleep forever",
]
THREAT_MORE = [
    "i know what car you drive", "i've seen where your staff park", "you won't feel safe walking home",
    "i'll be there when the branch closes", "i'm going to make your life hell, personally",
    "something's going to happen to that office", "remember my voice, you'll hear it again, in person",
    "i'll find the woman who served me and she'll regret it", "i'm going to teach your manager a lesson he won't forget",
    "i've got something for you when i come in tomorrow", "i'm not responsible for what i do when i get there",
    "keep talking and see what happens to you", "you'd better have security at the door",
    "i'll get my mates and we'll sort your branch out", "your staff had better hide when i arrive",
    "it's a shame if something happened to your kids", "i know your name and i'll find your address",
    "i'm going to put a brick through your window", "i'll wait for him in the car park",
    "the next person who says no to me is getting hurt", "i'm bringing my gun next time",
    "i'll smash your face in", "i'm going to set fire to the branch", "i'll break your legs",
    "you're going to end up in a ditch", "i'll make sure you never work again, and worse",
    "someone's going to pay for this in blood", "i'm going to go in there and shoot someone",
    "tell your boss to watch out, i'm coming for him", "i'll hunt you down",
]
ABUSE_MORE = [
    "you thick useless robot", "are you brain dead or something", "you're a disgrace, you stupid cow",
    "shut your mouth you idiot", "you're nothing but a useless piece of crap", "you absolute moron",
    "you incompetent fool", "you're an idiot and so is everyone who works there",
    "piss off you worthless machine", "fuck off", "you're a useless twat", "you stupid prick",
    "get me someone who isn't a halfwit", "you dense pathetic loser", "you're a clown",
]
LOOKALIKE_MORE = [
    "this bill is going to be the death of me", "the interest is killing us", "i'm dying to get this sorted",
    "the queue was murder", "i'm at the end of my rope with this app", "i've had enough of this bank",
    "i can't go on like this with the fees", "i'm done with your company", "i'm finished with you lot",
    "i want out of this contract", "i'm leaving, close everything", "there's no point in me staying with you",
    "nobody at your bank ever calls me back", "nobody would notice if you raised the fees, would they",
    "i'll be gone by the end of the month, cancel the direct debit", "i'm moving abroad so i won't be here next month",
    "i won't be around next week, i'm on holiday", "i won't be here tomorrow, can you call on thursday",
    "i'm going to the branch tomorrow to sort this out", "i'll come in person and complain",
    "i know where your head office is, i'll write to them", "i'll take this to the press",
    "you'll be hearing from my solicitor", "i'm going to leave a one star review everywhere",
    "i'll make sure everyone knows how bad you are", "watch this space, i'm complaining",
    "i'm so stressed i could scream", "i'm losing sleep over this", "i'm at my wits' end",
    "this is the worst day of my life, my card got swallowed", "i'm sick to death of hold music",
    "i'm going to explode if i hear that tune again", "i nearly had a heart attack at the bill",
    "my mum died and i need to sort her accounts", "i'm calling from the hospital, can i pay later",
    "i had an operation and missed the payment", "i'm on medication that makes me forget things",
    "my husband is in a coma and i need access", "i'm a carer for my dad who's terminally ill",
    "i'm a bit down today but i need my balance", "i'm stressed about money, can i get a payment plan",
    "i can't afford to live with these prices", "i'm struggling to pay, what help is there",
    "i'm scared i'll lose the house", "i'm drowning in debt, can you freeze the interest",
    "kill the standing order", "terminate the direct debit", "end the agreement early",
    "shoot, i forgot my pin", "i'm beat, long day", "the app keeps crashing and burning",
    "my card got destroyed in the wash", "i'll fight this charge", "i'll fight you on this fee",
    "you're killing me with these charges", "this price is criminal", "that's daylight robbery",
    "i'm not going to let this go", "i'll keep calling until someone fixes it",
    "you lot are useless", "this service is rubbish", "your website is a disaster",
    "bloody hell, not again", "for god's sake just put me through", "oh for crying out loud",
]



# Validation only, never trained on: hyperbole, idiom, fiction and games, grief and illness,
# the look-alikes the val pool of plain service text lacks. ``train_risk.py`` adds them to
# the pool its thresholds are set on, so a threshold has to leave them alone too.
VAL_LOOKALIKE = [
    "this queue is going to be the death of me", "if i have to press one more button i'll lose it",
    "my manager is going to murder me when he sees this overdraft", "i'm literally dying here, it's so hot",
    "that film absolutely killed me, i was crying laughing", "i'd kill to have your job right now",
    "ugh kill me, it's only tuesday", "i nearly died of shock when i opened the statement",
    "these stairs will be the end of me", "i'm dead on my feet after that shift",
    "how do i kill the final boss in this game", "in the book the villain poisons the king",
    "my character got shot in the last level", "we watched a documentary about a murder case",
    "the detective finds out who stabbed the butler", "i'm reading a thriller about a hitman",
    "my nan passed away last week and i'm sorting her bills", "i've been in hospital with my heart",
    "my brother overdosed years ago and i still think about him, anyway, my balance please",
    "i'm on antidepressants and they make me forget my pin", "my therapist says i should budget better",
    "i was so embarrassed i wanted the ground to swallow me up", "i could scream, this is the third time",
    "i want to bang my head against the wall with this app", "my kids are driving me up the wall",
    "i'm going to strangle my husband, he spent it all on golf", "honestly shoot me, i forgot my password again",
    "the printer is dead, can you email it", "my laptop died on me", "this phone is on its last legs",
    "i'm over it, just cancel the card", "i give up, you win, i'll pay the fee",
    "i'm broke and miserable, can i move my payment date", "i feel awful, i've got the flu",
    "i'm exhausted, it's been a long week at work", "i can't cope with all these letters you send",
    "i was beaten by the deadline, can you waive the late fee", "the team got slaughtered at the weekend",
    "that comedian slays every time", "i'm going to crash after this call",
    "the market crash killed my savings", "the fees are bleeding me dry", "you're robbing me blind",
    "i'm going to attack this debt in the new year", "i blew my budget on christmas",
    "i'm shooting for a lower rate", "i'll hit you with the reference number", "can you cut my overdraft limit",
    "my son is threatening to move out", "the dog nearly killed himself chasing the postman",
    "i could die happy if you fixed this", "i'm sick and tired of these calls",
    "what a nightmare of a day", "i'm losing my mind with this password reset",
    "i'd rather eat glass than call you again", "i hate this bank with a passion",
    "you'll be the death of me with these forms", "i'm done, i'm absolutely done with this app",
    "i want out, close the account today", "no point in me carrying on with this card, cancel it",
]


def positives(rng: random.Random) -> list[tuple[str, str]]:
    """(text, kind) with openers, lower-cased as a recogniser writes."""
    out: list[tuple[str, str]] = []
    for kind, lines in (("self_harm", SELF_HARM + SELF_HARM_MORE), ("threat", THREAT + THREAT_MORE),
                        ("abuse", ABUSE + ABUSE_MORE)):
        for line, op in itertools.product(lines, _OPEN):
            if rng.random() < 0.35 or op == "":
                out.append((op + line, kind))
    return out


def negatives(rng: random.Random) -> list[str]:
    return [op + line for line, op in itertools.product(LOOKALIKE + LOOKALIKE_MORE, _OPEN)
            if rng.random() < 0.35 or op == ""]
