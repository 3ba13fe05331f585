#!/usr/bin/env python3
"""Writes the demo text corpus for the MiniLM monitoring baseline (docs/MONITORING.md, "Text models").

Short everyday English sentences from a fixed grammar, fixed seed, nothing downloaded, so the file
is the same wherever it is made:  python3 demo/data/make_text_corpus.py > demo/data/text_reference.txt
With --shifted it writes the drifted kind instead: long sentences full of invented words that the
vocabulary does not know (a high unk_rate and seq_len), as the end-to-end test sends.
"""
import random
import sys

SUBJECTS = ["the cat", "my friend", "a customer", "the team", "our manager", "the weather",
            "this phone", "the train", "a student", "the doctor", "the old house", "her brother"]
VERBS = ["likes", "needs", "found", "bought", "watched", "opened", "fixed", "visited", "called",
         "cleaned", "painted", "sold"]
OBJECTS = ["a new car", "the red door", "some fresh bread", "the small garden", "an email",
           "the report", "a cheap ticket", "the blue box", "a good book", "the window",
           "a warm coat", "the kitchen"]
TAILS = ["", "", " yesterday", " this morning", " last week", " in the city", " after lunch",
         " before the meeting", " on monday", " with a smile"]


def sentence(rng):
    s = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(TAILS)}."
    return s[0].upper() + s[1:]


def shifted(rng):
    # Characters outside the uncased WordPiece vocabulary come out as [UNK].
    odd = "\u16a0\u16a2\u16a6\u16b1\u16b7\u16c1\u16c7\u16d2"
    words = []
    for _ in range(rng.randint(40, 70)):
        if rng.random() < 0.5:
            words.append("".join(rng.choice(odd) for _ in range(rng.randint(2, 5))))
        else:
            words.append(rng.choice(OBJECTS).split()[-1])
    return " ".join(words) + "."


def main():
    rng = random.Random(20261203)
    make = shifted if "--shifted" in sys.argv else sentence
    n = 100 if "--shifted" in sys.argv else 400
    for _ in range(n):
        print(make(rng))


if __name__ == "__main__":
    main()
