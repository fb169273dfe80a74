"""The skill model: what a skill is, wherever it came from (an official file or the control plane)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SkillSource = Literal["official", "custom"]
AvailabilityStatus = Literal["available", "warning", "unavailable"]

AGENT_SKILLS_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
"""The public Agent Skills format: lowercase letters, digits and single hyphens, at most 64 characters."""
SKILL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
LOCALE = re.compile(r"^[a-z]{2,3}$")


class ExecutionContract(BaseModel):
    """What a skill needs from the run and what it produces; drives availability and tool hints."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    preferred_tools: tuple[str, ...] = ()
    output_modes: tuple[str, ...] = ()
    durable_output_hints: tuple[str, ...] = ()
    required_mcp_servers: tuple[str, ...] = ()
    template_ids: tuple[str, ...] = ()


class Availability(BaseModel):
    """Whether a skill can be used in this run, and why not (or what to watch out for)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: AvailabilityStatus = "available"
    reasons: tuple[str, ...] = ()


class Skill(BaseModel):
    """One skill in one locale. `(source, id)` identifies a skill; `locale` picks one of its variants."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str = Field(min_length=1, max_length=64)
    title: str = ""
    """A human display name (may contain spaces or Japanese); `name` stays machine-friendly."""
    description: str = Field(min_length=1, max_length=1024)
    source: SkillSource = "official"
    category: str = "general"
    locale: str = "en"
    version: str = "1"
    priority: int = Field(default=50, ge=0, le=1000)
    triggers: tuple[str, ...] = ()
    activation_tags: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    """Requests a person would type for this skill, most without a trigger word (selection's intent model)."""
    instructions: str = ""
    contract: ExecutionContract = Field(default_factory=ExecutionContract)
    availability: Availability = Field(default_factory=Availability)
    path: str | None = None
    """The file an official skill was loaded from (for error messages and debugging)."""

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not SKILL_ID.match(value):
            raise ValueError("id must be 1-128 characters of letters, digits, '_', '.', ':' or '-'")
        return value

    @field_validator("locale")
    @classmethod
    def _check_locale(cls, value: str) -> str:
        value = value.lower().split("-")[0].split("_")[0]
        if not LOCALE.match(value):
            raise ValueError("locale must be a language code such as 'en' or 'ja'")
        return value

    @property
    def key(self) -> tuple[str, str]:
        """The dedup key: the same id may exist once as official and once as custom."""
        return (self.source, self.id)

    @property
    def label(self) -> str:
        """The key as one string: the intent model's class name and the stand-ins' keys."""
        return f"{self.source}:{self.id}"

    @property
    def display_name(self) -> str:
        return self.title or self.name

    def summary(self) -> dict[str, Any]:
        """A short, JSON-ready description used by listings and the skill tools."""
        return {
            "id": self.id,
            "source": self.source,
            "name": self.name,
            "title": self.display_name,
            "description": self.description,
            "category": self.category,
            "locale": self.locale,
            "priority": self.priority,
            "availability": self.availability.status,
        }

    def full(self) -> dict[str, Any]:
        """Everything about the skill, JSON-ready (camelCase like the wire)."""
        data = self.summary()
        data.update(
            {
                "version": self.version,
                "triggers": list(self.triggers),
                "activationTags": list(self.activation_tags),
                "examples": list(self.examples),
                "availabilityReasons": list(self.availability.reasons),
                "contract": {
                    "preferredTools": list(self.contract.preferred_tools),
                    "outputModes": list(self.contract.output_modes),
                    "durableOutputHints": list(self.contract.durable_output_hints),
                    "requiredMcpServers": list(self.contract.required_mcp_servers),
                    "templateIds": list(self.contract.template_ids),
                },
                "instructions": self.instructions,
            }
        )
        return data
