from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from app.common.schemas import RequestBody

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Model = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, Field(max_length=2000)]
Prompt = Annotated[str, Field(max_length=20_000)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Content = Annotated[str, Field(min_length=1, max_length=100_000)]
Role = Literal["user", "assistant", "system", "tool"]


class AgentIn(RequestBody):
    name: Name
    description: Description = ""
    model: Model = "default"
    system_prompt: Prompt = ""


class AgentPatch(RequestBody):
    name: Name | None = None
    description: Description | None = None
    model: Model | None = None
    system_prompt: Prompt | None = None


class Agent(BaseModel):
    id: UUID
    name: str
    description: str
    model: str
    system_prompt: str
    created_at: datetime
    updated_at: datetime


class AgentList(BaseModel):
    items: list[Agent]


class ConversationIn(RequestBody):
    agent_id: UUID
    title: Title


class Conversation(BaseModel):
    id: UUID
    agent_id: UUID
    title: str
    created_at: datetime
    updated_at: datetime


class ConversationList(BaseModel):
    items: list[Conversation]


class MessageIn(RequestBody):
    role: Role
    content: Content


class Message(BaseModel):
    id: UUID
    conversation_id: UUID
    role: Role
    content: str
    created_at: datetime


class MessagePage(BaseModel):
    items: list[Message]
    next_cursor: str | None = Field(description="Pass as `cursor` to read the next page; null on the last page.")
