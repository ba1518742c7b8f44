"""The story view in real headless Chromium, against host nginx running the front's config and
the real back."""

from __future__ import annotations

from playwright.sync_api import expect

from conftest import PHONE
from harness import STUDENTS_PREFIX

STORY_BUTTON = "Raconte-moi une histoire"


def tell_story(page):
    page.get_by_role("button", name=STORY_BUTTON).click()
    story = page.locator("#story-text")
    expect(story).to_be_visible()
    expect(story).not_to_be_empty()
    return story.inner_text()


def test_the_page_is_french_and_loads_without_console_errors(stack, open_page):
    page, console = open_page(stack.front.origin + "/")
    assert page.locator("html").get_attribute("lang") == "fr"
    expect(page).to_have_title("Raconte-moi une histoire")
    assert page.evaluate("window.APP_CONFIG") == {
        "storyUrl": "/racontemoiunehistoire",
        "studentsApiUrl": STUDENTS_PREFIX,
    }
    page.wait_for_load_state("networkidle")
    assert console.unexpected() == []


def test_the_story_appears_on_click(stack, open_page, artifacts):
    page, console = open_page(stack.front.origin + "/")
    story = tell_story(page)
    assert len(story) > 10
    expect(page.locator("#story-status")).to_be_empty()
    page.screenshot(path=artifacts / "story-desktop.png", full_page=True)
    assert console.unexpected() == []


def test_a_loading_state_shows_while_the_story_is_on_its_way(stack, open_page):
    page, console = open_page(stack.front.origin + "/")
    held = []
    page.route("**/racontemoiunehistoire", lambda route: held.append(route))  # held until released
    button = page.get_by_role("button", name=STORY_BUTTON)
    button.click()
    expect(page.locator("#story-status")).to_have_text("Chargement de l'histoire…")
    expect(button).to_have_attribute("aria-disabled", "true")
    button.click(force=True)  # ignored while loading: still one request
    assert len(held) == 1
    held[0].continue_()
    expect(page.locator("#story-text")).not_to_be_empty()
    expect(button).not_to_have_attribute("aria-disabled", "true")
    assert len(held) == 1
    assert console.unexpected() == []


def test_the_story_works_with_the_keyboard_alone(stack, open_page):
    page, console = open_page(stack.front.origin + "/")
    # Tab order: skip link, then the story button.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "story-button"
    page.keyboard.press("Enter")
    expect(page.locator("#story-text")).not_to_be_empty()
    assert page.evaluate("document.activeElement.id") == "story-button"
    assert console.unexpected() == []


def test_a_phone_width_screen_shows_everything_without_scrolling_sideways(stack, open_page, artifacts):
    page, console = open_page(stack.front.origin + "/", viewport=PHONE)
    tell_story(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=artifacts / "story-phone.png", full_page=True)
    assert console.unexpected() == []


def test_an_error_is_shown_while_the_back_is_down_and_the_page_recovers(stack, open_page, artifacts):
    page, console = open_page(stack.front.origin + "/")
    tell_story(page)

    stack.back.stop()
    page.get_by_role("button", name=STORY_BUTTON).click()
    status = page.locator("#story-status")
    expect(status).to_have_attribute("data-kind", "error")
    expect(status).to_contain_text("injoignable")
    button = page.get_by_role("button", name=STORY_BUTTON)
    expect(button).not_to_have_attribute("aria-disabled", "true")
    page.screenshot(path=artifacts / "story-error-desktop.png", full_page=True)

    stack.back.start()
    button.click()
    expect(status).to_be_empty()
    expect(page.locator("#story-text")).not_to_be_empty()
    assert console.unexpected(allow_failed_requests=True) == []


def test_an_absolute_story_url_to_another_origin_is_honoured(cross_origin_stack, open_page):
    story_url = f"{cross_origin_stack.back.url}/racontemoiunehistoire"
    page, console = open_page(cross_origin_stack.front.origin + "/")
    assert page.evaluate("window.APP_CONFIG.storyUrl") == story_url
    with page.expect_request(story_url):
        tell_story(page)
    assert console.unexpected() == []
