import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_admin_logs_in_walks_the_sections_and_logs_out(page: Page, live_server, admin_user):
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("didn't match")

    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("pw-ada-123")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Syncs")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    for section, heading in [("Runs", "Runs"), ("DLQ", "Dead letter queue"), ("Connections", "Connections")]:
        nav.get_by_role("link", name=section).click()
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        expect(nav.get_by_role("link", name=section)).to_have_attribute("aria-current", "page")
    assert page.evaluate("typeof window.htmx") == "object"

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Sign in to Syncline")).to_be_visible()
