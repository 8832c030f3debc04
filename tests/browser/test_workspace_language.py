"""The workspace in the agent's own language: the profile's Simplified Chinese, and the picker in
the top bar that changes it."""

import re

import pytest
from playwright.sync_api import expect

from agents_app.actions.agents import agent_update
from agents_app.models import Agent
from tests.browser.test_workspace import new_agent, open_workspace

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.live]

# What the zh-Hans catalogue (locale/zh_Hans/LC_MESSAGES/) says for the status switch: these
# assertions test the catalogue, and fail until it has them.
CATALOGUE_STATUS_LABELS = ["在线", "离开", "离线"]
CJK = re.compile(r"[\u4e00-\u9fff]")


def chinese_agent(name: str):
    agent = new_agent(name)
    agent_update(agent_id=agent.pk, language="zh-hans")
    return agent


def test_an_agent_whose_profile_says_chinese_gets_the_workspace_in_chinese(
    browser, live_server_url, desk, shot
):
    # Given an agent whose profile language is Simplified Chinese (the browser asks for English)
    agent = chinese_agent("Lin")

    # When the agent signs in, the workspace is in Chinese and the picker says so
    page = open_workspace(browser, live_server_url, agent)
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("#language")).to_have_value("zh-hans")
    shot(page, "workspace-in-chinese")

    # The catalogue's: the status switch and the sign-out button ("Sign out") in Chinese
    expect(page.locator(".status-switch span")).to_have_text(CATALOGUE_STATUS_LABELS)
    sign_out = page.locator("form.logout button")
    expect(sign_out).to_have_text(CJK)
    expect(sign_out).not_to_have_text("Sign out")


def test_the_language_picker_saves_the_profile_and_reloads_the_page_in_that_language(
    browser, live_server_url, desk, shot
):
    # Given a Chinese-speaking agent in the workspace
    agent = chinese_agent("Mei")
    page = open_workspace(browser, live_server_url, agent)
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    picker = page.locator("#language")
    expect(picker.locator("option")).to_have_count(3)
    expect(picker.locator("option[value='']")).to_have_count(1)
    expect(picker.locator("option[value='en']")).to_have_text("English")
    expect(picker.locator("option[value='zh-hans']")).to_have_text("简体中文")

    # When the agent picks English, the profile says so and the page comes again in English
    with page.expect_navigation():
        picker.select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(picker).to_have_value("en")
    expect(page.locator(".status-switch span")).to_have_text(["Online", "Away", "Offline"])
    expect(page.locator("form.logout button")).to_have_text("Sign out")
    expect(page.get_by_label("Language")).to_have_value("en")
    expect(page.locator("#load")).to_have_text("0 / 5")  # the live part is back too
    assert Agent.objects.get(pk=agent.pk).language == "en"
    shot(page, "picked-english")

    # When the agent goes back to the browser's language, the profile is emptied (and this
    # browser asks for English)
    with page.expect_navigation():
        picker.select_option("")
    expect(picker).to_have_value("")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#load")).to_have_text("0 / 5")
    assert Agent.objects.get(pk=agent.pk).language == ""
