"""A scripted chat model for tests: its reply is computed from the prompt by a test function.

Imported by name (``from scripted import ScriptedChat``), like ``pdfs``: one copy for every test module
that drives ``Assistant`` without a real LLM.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult


class ScriptedChat(BaseChatModel):
    """A chat model whose reply is computed from the prompt by a test function; records its calls."""

    reply: Callable[[list[BaseMessage]], str]
    calls: list[list[BaseMessage]]

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: list[BaseMessage], stop: Any = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        self.calls.append(messages)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.reply(messages)))])

    def _stream(self, messages: list[BaseMessage], stop: Any = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        self.calls.append(messages)
        for word in self.reply(messages).split(" "):
            yield ChatGenerationChunk(message=AIMessageChunk(content=word + " "))


class ChoosingChat(ScriptedChat):
    """A scripted chat model that can also be constrained to one of a list of options, like
    ``LlamaCppChat.choose``: ``letter`` computes the index from the prompt and the options."""

    letter: Callable[[list[Any], list[str]], int | None]
    chosen: list[tuple[list[Any], list[str]]]

    def choose(self, messages: list[Any], options: list[str]) -> int | None:
        self.chosen.append((list(messages), list(options)))
        return self.letter(messages, list(options))
