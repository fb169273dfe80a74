"""The public agent card, built from the server's own facts (name, version, official skills, auth)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.protobuf.json_format import MessageToDict

from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentProvider,
    AgentSkill,
    HTTPAuthSecurityScheme,
    SecurityRequirement,
    SecurityScheme,
)
from agent.server.a2a.inputs import INPUT_MODES

if TYPE_CHECKING:
    from agent.server.services import Services

PROTOCOL_VERSION = "1.0"
OUTPUT_MODES = ("text/plain", "application/json")


def _skills(services: Services) -> list[AgentSkill]:
    """One A2A skill per official skill; its locales become `locale:xx` tags, its triggers examples."""
    by_id: dict[str, list[Any]] = {}
    for skill in services.official_skills:
        by_id.setdefault(skill.id, []).append(skill)
    skills = []
    for skill_id, variants in sorted(by_id.items()):
        en = next((s for s in variants if s.locale == "en"), variants[0])
        locales = sorted({s.locale for s in variants})
        skills.append(
            AgentSkill(
                id=skill_id,
                name=en.title or en.name,
                description=en.description,
                tags=[en.category, *(f"locale:{loc}" for loc in locales)],
                examples=list(en.triggers[:3]),
            )
        )
    return skills


def build_card(services: Services, base_url: str) -> AgentCard:
    from agent import __version__

    card = AgentCard(
        name="agent-container",
        description=(
            "A containerised agent: plans, calls tools, asks for confirmation or clarification when it needs "
            f"to, and streams its work. Model: {services.model_name}."
        ),
        version=__version__,
        provider=AgentProvider(organization="agent-container", url=base_url),
        supported_interfaces=[
            AgentInterface(
                url=f"{base_url}/a2a", protocol_binding="JSONRPC", protocol_version=PROTOCOL_VERSION
            )
        ],
        capabilities=AgentCapabilities(streaming=True, push_notifications=False, extended_agent_card=False),
        default_input_modes=list(INPUT_MODES),
        default_output_modes=list(OUTPUT_MODES),
        skills=_skills(services),
    )
    if services.start_token is not None and not services.settings.dev:
        card.security_schemes["bearer"].CopyFrom(
            SecurityScheme(
                http_auth_security_scheme=HTTPAuthSecurityScheme(
                    scheme="bearer", description="Authorization: Bearer <START_TOKEN>"
                )
            )
        )
        requirement = SecurityRequirement()
        requirement.schemes["bearer"].SetInParent()
        card.security_requirements.append(requirement)
    return card


def card_json(card: AgentCard) -> dict[str, Any]:
    """ProtoJSON of the 1.0 card only (no 0.3 compatibility fields)."""
    return MessageToDict(card)
