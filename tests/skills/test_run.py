from __future__ import annotations

from control_bridge.contract import SkillsRuntimeContextResult
from skills import build_skill_tools, prepare_run_skills


async def test_prepare_from_the_runtime_context_model(official):
    context = SkillsRuntimeContextResult.model_validate(
        {
            "customSkills": [
                {
                    "id": "tax-helper",
                    "name": "tax-helper",
                    "description": "Tax returns",
                    "triggers": ["tax return"],
                    "requiredMcpServers": ["gov"],
                }
            ],
            "locale": None,
            "acceptLanguage": "ja,en;q=0.5",
            "mcpServers": ["github"],
            "templateIds": ["slides-outline", "speaker-notes"],
        }
    )
    run = prepare_run_skills(
        official,
        context,
        user_messages=["Make slides and file my tax return"],
        tool_names=["create_artifact", "space_files_write"],
    )
    assert run.locale == "ja" and run.selection is not None
    assert run.selection.locale_source == "accept_language"
    assert run.selection.activated_ids == ["slides-author"]
    assert run.selection.activated[0].locale == "ja"
    tax = run.selection.decision("tax-helper", "custom")
    assert tax and tax.status == "unavailable" and "missing MCP server 'gov'" in tax.reasons[-1]
    repo = run.selection.decision("repo-app-operator")
    assert repo and repo.status == "unavailable"  # its templates are missing in this run
    tools = {t.name: t for t in build_skill_tools(run)}
    context_result = await tools["skill_context"].execute({}, None)
    assert context_result["activated"][0]["id"] == "slides-author"


def test_prepare_with_dict_and_no_context(official):
    run = prepare_run_skills(
        official, None, user_messages=[], run_input="Research EV batteries", explicit_locale="en-US"
    )
    assert run.locale == "en" and run.selection and run.selection.activated_ids == ["research-brief"]
    run = prepare_run_skills(official, {"locale": "ja"}, user_messages=["hello"])
    assert run.locale == "ja" and run.selection and run.selection.locale_source == "preference"
