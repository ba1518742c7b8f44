"""The students view in real headless Chromium: login, list, add, edit, delete, and the error
messages, through the front's proxy and, with an absolute URL in config.js, straight to a back on
another origin (CORS)."""

from __future__ import annotations

import json
import re

from playwright.sync_api import expect

from conftest import PHONE
from harness import API_PASSWORD, API_USER, STUDENTS_PREFIX


def login(page, username=API_USER, password=API_PASSWORD):
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()


def status(page):
    return page.locator("#students-status")


def row(page, name):
    return page.locator("#students-body tr", has=page.get_by_role("rowheader", name=name, exact=True))


def add_student(page, name, age):
    page.get_by_label("Nom", exact=True).fill(name)
    page.get_by_label("Âge", exact=True).fill(str(age))
    page.get_by_role("button", name="Ajouter").click()


def test_login_list_add_edit_delete(stack, open_page, artifacts):
    page, console = open_page(stack.front.origin + "/")
    page.on("dialog", lambda dialog: dialog.accept())
    login(page)
    expect(page.locator("#students-table")).to_be_visible()
    expect(status(page)).to_contain_text("dans la liste")

    add_student(page, "Zoé Durand", 12)
    expect(status(page)).to_contain_text("ajouté")
    expect(row(page, "Zoé Durand").locator("td").first).to_have_text("12")

    row(page, "Zoé Durand").get_by_role("button", name="Modifier").click()
    age_input = page.get_by_label("Nouvel âge de Zoé Durand")
    expect(age_input).to_be_focused()
    age_input.fill("13")
    age_input.press("Enter")
    expect(status(page)).to_contain_text("mis à jour")
    expect(row(page, "Zoé Durand").locator("td").first).to_have_text("13")

    page.get_by_role("button", name="Lister les étudiants").click()
    expect(row(page, "Zoé Durand").locator("td").first).to_have_text("13")
    page.screenshot(path=artifacts / "students-desktop.png", full_page=True)

    row(page, "Zoé Durand").get_by_role("button", name="Supprimer").click()
    expect(status(page)).to_contain_text("supprimé")
    expect(row(page, "Zoé Durand")).to_have_count(0)
    assert console.unexpected() == []


def test_a_list_longer_than_a_page_is_shown_whole(make_stack, workdir, open_page):
    """The REST list comes in pages of at most 1,000: the page follows `next_cursor` to the end."""
    count = 2345
    store = workdir / "back0" / "student_age.json"
    store.parent.mkdir(parents=True)
    store.write_text(json.dumps({f"élève {i:04d}": str(i % 100) for i in range(count)}, indent=4, ensure_ascii=False))
    stack = make_stack()
    page, console = open_page(stack.front.origin + "/")
    login(page)
    expect(status(page)).to_contain_text(str(count))
    expect(page.locator("#students-body tr")).to_have_count(count)
    expect(row(page, f"élève {count - 1:04d}")).to_have_count(1)
    assert console.unexpected() == []


def test_a_wrong_password_gets_its_message_and_no_browser_dialog(stack, open_page, artifacts):
    page, console = open_page(stack.front.origin + "/")
    login(page, password="not-the-password")
    expect(status(page)).to_have_text("Identifiant ou mot de passe incorrect.")
    expect(page.get_by_label("Mot de passe")).to_be_visible()
    expect(page.locator("#students-panel")).to_be_hidden()
    page.screenshot(path=artifacts / "students-wrong-password.png", full_page=True)
    # Login works afterwards with the right one.
    login(page)
    expect(page.locator("#students-table")).to_be_visible()
    assert console.unexpected(allow_failed_requests=True) == []


def test_validation_errors_are_shown(stack, open_page):
    page, console = open_page(stack.front.origin + "/")
    login(page)
    expect(page.locator("#students-table")).to_be_visible()

    add_student(page, "Léa", 151)
    expect(status(page)).to_have_text("L'âge doit être un nombre entier entre 0 et 150.")
    add_student(page, "   ", 10)
    expect(status(page)).to_have_text("Le nom de l'étudiant est obligatoire.")

    # The back's own refusal (a duplicate) is shown with its text.
    add_student(page, "Léa", 20)
    expect(status(page)).to_contain_text("ajouté")
    add_student(page, "Léa", 21)
    expect(status(page)).to_have_attribute("data-kind", "error")
    expect(status(page)).to_contain_text(re.compile(r"^Ajout impossible : .+"))
    assert console.unexpected(allow_failed_requests=True) == []


def test_credentials_stay_in_memory_only(stack, open_page):
    page, _ = open_page(stack.front.origin + "/")
    login(page)
    expect(page.locator("#students-table")).to_be_visible()
    stored = page.evaluate(
        "() => [document.cookie, JSON.stringify(localStorage), JSON.stringify(sessionStorage)].join('|')"
    )
    assert stored == "|{}|{}"
    assert page.get_by_label("Mot de passe").input_value() == ""
    page.reload()
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("#students-panel")).to_be_hidden()


def test_students_on_a_phone_width_screen(stack, open_page, artifacts):
    page, console = open_page(stack.front.origin + "/", viewport=PHONE)
    login(page)
    add_student(page, "Maximilien-Alexandre de la Fontaine", 19)
    expect(status(page)).to_contain_text("ajouté")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=artifacts / "students-phone.png", full_page=True)
    assert console.unexpected() == []


def test_students_through_cors_with_an_absolute_url(cross_origin_stack, open_page):
    page, console = open_page(cross_origin_stack.front.origin + "/")
    with page.expect_request(re.compile(re.escape(f"{cross_origin_stack.back.url}{STUDENTS_PREFIX}/"))):
        login(page)
    expect(page.locator("#students-table")).to_be_visible()
    add_student(page, "Inès", 30)
    expect(row(page, "Inès").locator("td").first).to_have_text("30")
    assert console.unexpected() == []


def test_an_api_without_credentials_gets_its_message(make_stack, open_page):
    stack = make_stack(back_env={"API_USERNAME": None, "API_PASSWORD": None})
    page, console = open_page(stack.front.origin + "/")
    login(page)
    expect(status(page)).to_contain_text("n'est pas configurée")
    assert console.unexpected(allow_failed_requests=True) == []


def test_a_write_the_back_cannot_make_shows_the_back_s_error(make_stack, workdir, open_page):
    # The store's directory does not exist: the back lists its sample, and every write fails
    # with a 5xx JSON error (as with a read-only store).
    stack = make_stack(back_env={"STUDENT_AGE_FILE": str(workdir / "no-such-dir" / "student_age.json")})
    page, console = open_page(stack.front.origin + "/")
    login(page)
    expect(page.locator("#students-table")).to_be_visible()
    add_student(page, "Noé", 9)
    expect(status(page)).to_have_attribute("data-kind", "error")
    expect(status(page)).to_contain_text(re.compile(r"^Ajout impossible : le serveur a refusé l'opération \(student store .+\)"))
    assert console.unexpected(allow_failed_requests=True) == []


def test_a_wrong_password_through_cors_gets_its_message(cross_origin_stack, open_page):
    page, console = open_page(cross_origin_stack.front.origin + "/")
    login(page, password="not-the-password")
    expect(status(page)).to_have_text("Identifiant ou mot de passe incorrect.")
    assert console.unexpected(allow_failed_requests=True) == []


def test_non_ascii_credentials_are_sent_as_utf8(make_stack, open_page):
    stack = make_stack(back_env={"API_USERNAME": "élève", "API_PASSWORD": "mot:dé passe✓"})
    page, console = open_page(stack.front.origin + "/")
    login(page, username="élève", password="mot:dé passe✓")
    expect(page.locator("#students-table")).to_be_visible()
    assert console.unexpected() == []


def test_login_and_edit_with_the_keyboard_alone(stack, open_page):
    page, console = open_page(stack.front.origin + "/")
    for _ in range(3):  # skip link, story button, username
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "login-username"
    page.keyboard.type(API_USER)
    page.keyboard.press("Tab")
    page.keyboard.type(API_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#students-table")).to_be_visible()
    expect(page.get_by_role("button", name="Lister les étudiants")).to_be_focused()

    first_edit = page.locator("#students-body button", has_text="Modifier").first
    first_edit.focus()
    page.keyboard.press("Enter")
    age_input = page.locator("#students-body input.age-input")
    expect(age_input).to_be_focused()
    page.keyboard.press("Escape")
    expect(age_input).to_have_count(0)
    expect(first_edit).to_be_focused()
    assert console.unexpected() == []
