"""Hypothesis strategies for workflows, their words, and small state-machine models."""
from __future__ import annotations

import random

from hypothesis import strategies as st

from tracelogic.models.workflow import (END, START, Alt, Event, Opt, Par, Seq, Skip, Star, Step,
                                        sample_word, steps_of)

STEPS = ("a", "b", "c")


def workflows(steps=STEPS, max_leaves: int = 5):
    """Small workflow terms over ``steps`` (every operator, nesting included)."""
    leaf = st.one_of(st.sampled_from([Step(s) for s in steps]), st.just(Skip()))

    def extend(children):
        pair = st.lists(children, min_size=2, max_size=3).map(tuple)
        return st.one_of(pair.map(Seq), pair.map(Par), pair.map(Alt),
                         children.map(Star), children.map(Opt))

    return st.recursive(leaf, extend, max_leaves=max_leaves)


@st.composite
def words_for(draw, w, max_len: int = 8, extra_steps=()):
    """A word that is often in the language of ``w`` and often a near miss."""
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))
    alphabet = [Event(s, ph) for s in list(steps_of(w)) + list(extra_steps) or ["a"]
                for ph in (START, END)]
    kind = draw(st.sampled_from(["member", "mutated", "random", "prefix"]))
    word = sample_word(w, rnd, max_star=2)
    if kind == "random" or len(word) > max_len:
        word = [rnd.choice(alphabet) for _ in range(rnd.randint(0, max_len))]
    elif kind == "mutated" and word:
        i = rnd.randrange(len(word))
        op = rnd.choice(["drop", "swap", "replace", "insert"])
        if op == "drop":
            del word[i]
        elif op == "swap" and len(word) > 1:
            j = rnd.randrange(len(word))
            word[i], word[j] = word[j], word[i]
        elif op == "replace":
            word[i] = rnd.choice(alphabet)
        else:
            word.insert(i, rnd.choice(alphabet))
    elif kind == "prefix":
        word = word[:rnd.randint(0, len(word))]
    return tuple(word[:max_len])


def well_formed(word) -> bool:
    """Every prefix has, per step, no more ends than starts (the events of real spans)."""
    open_: dict[str, int] = {}
    for e in word:
        open_[e.step] = open_.get(e.step, 0) + (1 if e.phase == START else -1)
        if open_[e.step] < 0:
            return False
    return True


def spans_of(word):
    """Pair the start and end events of a forward word into spans (FIFO per step)."""
    open_: dict[str, list[int]] = {}
    spans = []
    for i, e in enumerate(word):
        if e.phase == START:
            open_.setdefault(e.step, []).append(len(spans))
            spans.append([e.step, i, None])
        else:
            k = open_[e.step].pop(0)
            spans[k][2] = i
    return spans


@st.composite
def failure_words(draw, w, compensations: dict, max_len: int = 12):
    """Flagged words with failures, in-flight ends and compensations (retries included).

    Well formed: every span's start comes before its end. About half follow the saga
    discipline exactly; the rest break it in one random way.
    """
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))
    word = sample_word(w, rnd, max_star=2)
    spans = spans_of(word)
    if not spans:
        return tuple(word)
    events: list[tuple[int, Event]] = []  # (sort position, event)
    fail = rnd.randrange(len(spans)) if rnd.random() < 0.85 else None
    fail_end = spans[fail][2] if fail is not None else None
    for k, (s, i, j) in enumerate(spans):
        failed = (k == fail) or (fail is not None and rnd.random() < 0.1)
        if fail_end is not None and i > fail_end and rnd.random() < 0.85:
            continue  # no forward step starts after the failure
        events.append((i, Event(s, START, failed)))
        events.append((j, Event(s, END, failed)))
    comp_events = []
    if fail is not None:
        done = sorted((j, s) for (s, i, j), k in zip(spans, range(len(spans)))
                      if any(e == (j, Event(s, END, False)) for e in events) and s in compensations)
        order = [s for _, s in reversed(done)]
        if rnd.random() < 0.3:
            rnd.shuffle(order)
        if order and rnd.random() < 0.15:
            order.pop(rnd.randrange(len(order)))
        if rnd.random() < 0.1 and compensations:
            order.append(rnd.choice(sorted(compensations)))
        for s in order:
            c = compensations[s]
            for _ in range(rnd.choice([0, 0, 1, 2])):  # failed attempts, retried
                comp_events += [Event(c, START, True), Event(c, END, True)]
            comp_events += [Event(c, START), Event(c, END)]
    evs = [e for _, e in sorted(events, key=lambda x: x[0])]
    if fail_end is not None:
        # compensations after the failure, possibly interleaved with in-flight ends
        cut = next(i for i, e in enumerate(evs) if e.phase == END and e.failed)
        tail = evs[cut + 1:]
        merged = []
        a, b = list(tail), list(comp_events)
        while a or b:
            if b and (not a or rnd.random() < 0.5):
                merged.append(b.pop(0))
            else:
                merged.append(a.pop(0))
        evs = evs[:cut + 1] + merged
        if rnd.random() < 0.05 and comp_events:
            pos = rnd.randrange(cut + 1)  # a compensation too early
            evs[pos:pos] = comp_events[-2:]
        if rnd.random() < 0.15 and cut > 1:  # the forward part before the failure is wrong
            i, j = rnd.randrange(cut), rnd.randrange(cut)
            evs[i], evs[j] = evs[j], evs[i]
            if not well_formed(evs):  # still spans: no end before its start
                evs[i], evs[j] = evs[j], evs[i]
        if rnd.random() < 0.15:  # a forward step that starts after the failure
            s = rnd.choice(sorted({x.step for x in evs if x.step not in compensations.values()}))
            pos = rnd.randint(cut + 1, len(evs))
            evs[pos:pos] = [Event(s, START), Event(s, END)][:rnd.randint(1, 2)]
    return tuple(evs[:max_len])


@st.composite
def random_flagged_words(draw, steps, max_len: int = 8):
    """Uniformly random flagged words over the events of ``steps`` (mostly near misses)."""
    ev = st.builds(Event, st.sampled_from(sorted(steps)), st.sampled_from([START, END]),
                   st.booleans())
    return tuple(draw(st.lists(ev, max_size=max_len)))
