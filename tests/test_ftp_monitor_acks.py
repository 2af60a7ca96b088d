"""The monitor's confirm ledger: every published message is settled once, in order, whatever order the acks take."""

from __future__ import annotations

import random

from ftp_monitor.acks import ConfirmLedger


def ledger_of(count: int) -> ConfirmLedger[str]:
    ledger: ConfirmLedger[str] = ConfirmLedger()
    for tag in range(1, count + 1):
        ledger.add((tag, f"message {tag}"))
    return ledger


def test_a_tag_acked_alone_before_a_multiple_ack_of_the_older_ones_is_settled_with_them():
    # What RabbitMQ sent on a loaded machine: tag 5 alone, then 4 with multiple.
    ledger = ledger_of(5)
    assert ledger.confirm(1, multiple=False) == [(1, "message 1")]
    assert ledger.confirm(5, multiple=False) == []
    assert [tag for tag, _ in ledger.confirm(4, multiple=True)] == [2, 3, 4, 5]
    assert len(ledger) == 0


def test_an_early_single_ack_waits_for_the_older_single_ack():
    ledger = ledger_of(3)
    assert ledger.confirm(3, multiple=False) == []
    assert ledger.confirm(2, multiple=False) == []
    assert [tag for tag, _ in ledger.confirm(1, multiple=False)] == [1, 2, 3]


def test_a_multiple_ack_past_an_early_tag_forgets_it():
    ledger = ledger_of(4)
    assert ledger.confirm(2, multiple=False) == []
    assert [tag for tag, _ in ledger.confirm(3, multiple=True)] == [1, 2, 3]
    assert ledger.confirm(4, multiple=False) == [(4, "message 4")]


def test_stale_and_unknown_tags_settle_nothing():
    ledger = ledger_of(2)
    assert ledger.confirm(1, multiple=False) == [(1, "message 1")]
    assert ledger.confirm(1, multiple=False) == []  # already settled
    ledger.clear()
    assert ledger.confirm(2, multiple=True) == [] and len(ledger) == 0


def broker_acks(count: int, rng: random.Random) -> list[tuple[int, bool]]:
    """Acks a broker may send for tags 1..count, in any order: each tag is covered once, by a single ack or by
    a multiple ack (which covers every tag up to it not acked before)."""
    open_tags = set(range(1, count + 1))
    acks: list[tuple[int, bool]] = []
    while open_tags:
        tag = rng.choice(sorted(open_tags))
        multiple = rng.random() < 0.4
        acks.append((tag, multiple))
        open_tags -= {t for t in open_tags if t <= tag} if multiple else {tag}
    return acks


def test_any_order_of_acks_settles_every_message_exactly_once_in_publish_order():
    for seed in range(500):
        rng = random.Random(seed)
        count = rng.randint(1, 40)
        ledger = ledger_of(count)
        acked: set[int] = set()
        settled: list[int] = []
        for tag, multiple in broker_acks(count, rng):
            acked.update(range(1, tag + 1) if multiple else [tag])
            now = [t for t, _ in ledger.confirm(tag, multiple)]
            assert set(now) <= acked, f"seed {seed}: settled before the broker acked it"
            settled += now
        assert settled == list(range(1, count + 1)), f"seed {seed}"
        assert len(ledger) == 0, f"seed {seed}"
