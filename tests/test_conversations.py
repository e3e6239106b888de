"""The conversation store (``retrieval.conversations``) on a real SQLite file: round trip, threads, and
saving an exchange into a conversation that was deleted meanwhile (the page's other tab)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from retrieval.conversations import (
    LOCAL_OWNER,
    Conversations,
    Message,
    Saved,
    answer_from_record,
    answer_to_record,
)
from retrieval.types import Answer, Citation, Passage

ANSWER = Answer(
    text="He ordered a pause [1].",
    citations=[Citation(1, "a1", "T", "https://x.example/a", "2025-01-02", "O", "quote", 3, 8)],
    passages=[Passage("c1", "a1", "passage text", 0, 12, title="T", similarity=0.5)],
    timings={"total": 1.5},
)


@pytest.fixture
def store(tmp_path: Path) -> Conversations:
    return Conversations(tmp_path / "conversations.sqlite3")


def turns(store: Conversations, conversation_id: str, owner: str = LOCAL_OWNER) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in store.load(conversation_id, owner=owner)]


def test_conversations_store_round_trip_and_threads(tmp_path: Path) -> None:
    path = tmp_path / "conversations.sqlite3"
    store = Conversations(path)
    first = store.create(owner=LOCAL_OWNER)
    assert store.list(owner=LOCAL_OWNER) == []  # empty conversations are not listed
    store.append(first, "user", "What did Pete Hegseth reportedly order, according to the article about allies?",
                 owner=LOCAL_OWNER)
    store.append(first, "assistant", ANSWER.text, answer_to_record(ANSWER), owner=LOCAL_OWNER)

    def worker(n: int) -> None:
        cid = store.create(owner=LOCAL_OWNER)
        for i in range(5):
            store.append(cid, "user", f"question {n}-{i}", owner=LOCAL_OWNER)
            store.append(cid, "assistant", f"answer {n}-{i}", owner=LOCAL_OWNER)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()

    reopened = Conversations(path)  # as after a restart
    listed = reopened.list(owner=LOCAL_OWNER)
    assert len(listed) == 9
    assert all(c.messages == 10 for c in listed if c.id != first)
    mine = next(c for c in listed if c.id == first)
    assert mine.title.startswith("What did Pete Hegseth reportedly order") and mine.title.endswith("…")
    assert len(mine.title) <= 61
    messages = reopened.load(first, owner=LOCAL_OWNER)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].answer is not None
    restored = answer_from_record(messages[1].answer)
    assert restored.citations == ANSWER.citations and restored.passages == ANSWER.passages
    assert restored.timings == {"total": 1.5}
    reopened.rename(first, "Hegseth", owner=LOCAL_OWNER)
    assert reopened.get(first, owner=LOCAL_OWNER).title == "Hegseth"  # type: ignore[union-attr]
    with pytest.raises(KeyError):
        reopened.load("nope", owner=LOCAL_OWNER)
    with pytest.raises(ValueError):
        reopened.append(first, "system", "x", owner=LOCAL_OWNER)
    journal = reopened._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert journal == "wal"


def test_an_exchange_starts_a_conversation_and_continues_it(store: Conversations) -> None:
    saved = store.save_exchange(None, "What did Pete Hegseth order?", ANSWER.text, answer_to_record(ANSWER),
                                owner=LOCAL_OWNER)
    assert not saved.restarted
    assert turns(store, saved.conversation_id) == [("user", "What did Pete Hegseth order?"), ("assistant", ANSWER.text)]
    [user, assistant] = store.load(saved.conversation_id, owner=LOCAL_OWNER)
    assert user.answer is None and answer_from_record(assistant.answer or {}).citations == ANSWER.citations
    again = store.save_exchange(saved.conversation_id, "And Canada?", "Canada said nothing.", None,
                                owner=LOCAL_OWNER, earlier=[Message("user", "never saved twice")])
    assert again == Saved(saved.conversation_id, restarted=False)  # earlier turns are only for a deleted one
    assert len(turns(store, saved.conversation_id)) == 4
    assert store.get(saved.conversation_id, owner=LOCAL_OWNER).title == "What did Pete Hegseth order?"  # type: ignore[union-attr]


def test_an_exchange_in_a_deleted_conversation_goes_on_in_a_new_one_with_the_shown_turns(
    store: Conversations,
) -> None:
    """Tab B asks after tab A deleted B's conversation: a new conversation holds what B shows (its earlier
    turns, their answers too) and then this exchange, rather than the save failing from then on."""
    first = store.save_exchange(None, "What did Pete Hegseth order?", ANSWER.text, answer_to_record(ANSWER),
                                owner=LOCAL_OWNER).conversation_id
    shown = store.load(first, owner=LOCAL_OWNER)
    assert store.delete(first, owner=LOCAL_OWNER)  # tab A
    saved = store.save_exchange(first, "And what did Canada say?", "Canada deeply values it.", None,
                                owner=LOCAL_OWNER, earlier=shown)
    assert saved.restarted and saved.conversation_id != first
    assert turns(store, saved.conversation_id) == [
        ("user", "What did Pete Hegseth order?"), ("assistant", ANSWER.text),
        ("user", "And what did Canada say?"), ("assistant", "Canada deeply values it."),
    ]
    restored = store.load(saved.conversation_id, owner=LOCAL_OWNER)[1].answer
    assert restored is not None and answer_from_record(restored).citations == ANSWER.citations
    [listed] = store.list(owner=LOCAL_OWNER)
    assert listed.id == saved.conversation_id and listed.title == "What did Pete Hegseth order?"
    nxt = store.save_exchange(saved.conversation_id, "What did the UK say?", "Nothing.", None, owner=LOCAL_OWNER,
                              earlier=shown)
    assert nxt == Saved(saved.conversation_id) and len(turns(store, saved.conversation_id)) == 6


def test_another_owners_conversation_is_as_unknown_as_a_deleted_one(store: Conversations) -> None:
    bobs = store.save_exchange(None, "Bob's question", "Bob's answer", None, owner="user:bob").conversation_id
    saved = store.save_exchange(bobs, "Alice's question", "Alice's answer", None, owner="user:alice")
    assert saved.restarted and saved.conversation_id != bobs
    assert turns(store, bobs, "user:bob") == [("user", "Bob's question"), ("assistant", "Bob's answer")]
    assert turns(store, saved.conversation_id, "user:alice")[0] == ("user", "Alice's question")


def test_an_exchange_is_saved_whole_or_not_at_all(store: Conversations) -> None:
    first = store.save_exchange(None, "Q1", "A1", None, owner=LOCAL_OWNER).conversation_id
    store.delete(first, owner=LOCAL_OWNER)
    with pytest.raises(ValueError):
        store.save_exchange(first, "Q2", "A2", None, owner=LOCAL_OWNER, earlier=[Message("system", "x")])
    assert store.list(owner=LOCAL_OWNER) == []  # no half-made conversation left behind
