"""The web console in a real browser: Playwright driving Debian's Chromium (no browser download
is possible here, so its path is given) against a running stack, as a user clicks through it.
No request may leave the stack's host, and the page may log no error of its own."""

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Route, expect, sync_playwright

from deploy.stack import Stack

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


class Watched:
    """A page whose requests to other hosts are refused and recorded, and whose errors are kept."""

    def __init__(self, browser: Browser, stack: Stack) -> None:
        self.host = urlsplit(stack.api_url).netloc
        self.context = browser.new_context(accept_downloads=True, locale="zh-CN")
        self.page: Page = self.context.new_page()
        self.elsewhere: list[str] = []
        self.errors: list[str] = []
        self.page.route("**/*", self._only_here)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _only_here(self, route: Route, request: Request) -> None:
        if urlsplit(request.url).scheme in ("http", "https") and urlsplit(request.url).netloc != self.host:
            self.elsewhere.append(request.url)
            route.abort()
        else:
            route.continue_()

    def _console(self, message: ConsoleMessage) -> None:
        # A 4xx the test asks for (a bad key, a bad file) is logged by Chromium as a failed load.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.errors.append(message.text)


@pytest.fixture
def watched(browser: Browser, sqlite_stack: Stack) -> Iterator[Watched]:
    watched = Watched(browser, sqlite_stack)
    yield watched
    watched.context.close()
    assert watched.elsewhere == [], "requests left the host"
    assert watched.errors == [], "the page logged errors"


def audio_seconds(page: Page, selector: str, timeout_s: float = 30) -> float:
    """The length of what an <audio> has loaded, once it has (the page's CSP allows no eval, so
    no wait_for_function: the element is asked from here)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seconds = page.locator(selector).evaluate("audio => audio.duration")
        if isinstance(seconds, int | float) and seconds == seconds and seconds > 0:  # NaN until loaded
            return float(seconds)
        time.sleep(0.2)
    raise AssertionError(f"{selector} loaded no audio in {timeout_s:.0f} s")


def sign_in(page: Page, stack: Stack, key: str) -> None:
    page.goto(f"{stack.api_url}/console")
    page.get_by_test_id("api-key").fill(key)
    page.get_by_test_id("sign-in").click()
    if key == stack.key:
        expect(page.get_by_role("heading", name="批次 Batches")).to_be_visible()


def test_a_chapter_from_upload_to_a_played_line_and_a_downloaded_m4b(
    watched: Watched, sqlite_stack: Stack, tmp_path: Path
) -> None:
    page = watched.page
    sign_in(page, sqlite_stack, "vq_not_a_key")
    expect(page.get_by_test_id("error-message")).to_contain_text("not valid")

    sign_in(page, sqlite_stack, sqlite_stack.key)

    script = tmp_path / "第一章.txt"
    script.write_text("# 第一章 春天\n春天来了，山上的花都开了。\n小明和妹妹一起去公园散步。\n", encoding="utf-8")
    page.get_by_role("link", name="上传 Upload").click()
    page.get_by_test_id("upload-file").set_input_files(str(script))
    page.get_by_test_id("upload-submit").click()

    expect(page.get_by_test_id("batch-status")).to_have_text("succeeded", timeout=120_000)
    progress = page.get_by_test_id("batch-progress")
    assert progress.get_attribute("value") == progress.get_attribute("max") == "3"
    expect(page.get_by_test_id("chapter-row")).to_have_count(1)
    expect(page.get_by_test_id("chapter-row")).to_contain_text("第一章 春天")

    page.get_by_test_id("play-line").first.click()
    assert audio_seconds(page, "#line-audio") > 0.5

    with page.expect_download(timeout=120_000) as download:
        page.get_by_test_id("download-m4b").click()
    m4b = Path(download.value.path()).read_bytes()
    assert m4b[4:8] == b"ftyp" and len(m4b) > 5000
    with page.expect_download() as captions:
        page.get_by_test_id("download-captions").click()
    assert "春天来了" in Path(captions.value.path()).read_text(encoding="utf-8")

    page.get_by_role("link", name="批次 Batches").click()
    expect(page.get_by_test_id("batch-row").first).to_contain_text("第一章.txt")
    expect(page.get_by_test_id("batch-row").first.get_by_test_id("batch-status")).to_have_text("succeeded")


def test_the_say_box_shows_what_will_be_said_and_plays_it(watched: Watched, sqlite_stack: Stack) -> None:
    page = watched.page
    sign_in(page, sqlite_stack, sqlite_stack.key)
    page.get_by_role("link", name="试听 Say").click()
    page.get_by_test_id("say-text").fill("客服电话400-800-1234，账单¥12.50。")
    page.get_by_test_id("say-voice").fill("cmn")
    page.get_by_test_id("say-submit").click()
    expect(page.get_by_test_id("say-spoken-text")).to_have_text("客服电话四零零 八零零 幺二三四，账单十二元五角。")
    assert audio_seconds(page, "[data-testid=say-audio]", 60) > 0.5


def test_a_bad_file_says_what_is_wrong(watched: Watched, sqlite_stack: Stack, tmp_path: Path) -> None:
    page = watched.page
    sign_in(page, sqlite_stack, sqlite_stack.key)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    page.get_by_role("link", name="上传 Upload").click()
    page.get_by_test_id("upload-file").set_input_files(str(empty))
    page.get_by_test_id("upload-submit").click()
    expect(page.get_by_test_id("error-message")).to_contain_text("empty")
