"""The web app in a real browser (Debian's chromium + chromium-driver through Selenium):
type a query, see thumbnails, open a hit (the player stands at its in-point on a frame
that is not black), name a person and find them by that name, build a reel. Screenshots
of every page go to the test's tmp dir (or $ASSETDB_SCREENSHOTS)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import require_shared_data
from tests.liveserver import get_json, ingest_web_media, live_server

pytest.importorskip("fastapi")
selenium = pytest.importorskip("selenium", reason="selenium is not installed")
SHARED = require_shared_data()

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                             "/usr/bin/chromium") if p and Path(p).is_file()), None)
DRIVER = next((p for p in (shutil.which("chromedriver"), "/usr/bin/chromedriver")
               if p and Path(p).is_file()), None)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None or DRIVER is None,
                       reason="no browser: install Debian's chromium and chromium-driver "
                              "(scripts/setup does when it runs as root)"),
]
WAIT_S = 60


@pytest.fixture(scope="module")
def site(module_store):
    ingest_web_media(module_store, SHARED / "media", ["faces", "proxy"])
    with live_server(module_store) as url:
        yield module_store, url


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1440,900", "--mute-audio",
                "--autoplay-policy=no-user-gesture-required"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(WAIT_S)
    yield driver
    driver.quit()


@pytest.fixture(autouse=True)
def blank_page(browser):
    """Each test starts on a blank page with no browser log left from the one before
    (a page left open keeps polling a server that has stopped)."""
    browser.get("about:blank")
    browser.get_log("browser")
    yield
    browser.get("about:blank")


@pytest.fixture
def shots(tmp_path: Path, db_backend: str) -> Path:
    out = Path(os.environ.get("ASSETDB_SCREENSHOTS") or tmp_path / "screens") / db_backend
    out.mkdir(parents=True, exist_ok=True)
    return out


def wait(browser, script: str, what: str, timeout: float = WAIT_S):
    """Poll a JS expression until it is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = browser.execute_script(f"return ({script});")
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def no_errors(browser) -> None:
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


GRAY_64x36 = """
const v = document.getElementById(arguments[0]);
const c = document.createElement('canvas');
c.width = 64; c.height = 36;
const g = c.getContext('2d');
g.drawImage(v, 0, 0, 64, 36);
const d = g.getImageData(0, 0, 64, 36).data;
const y = [];
for (let i = 0; i < d.length; i += 4) y.push(0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]);
return y;
"""


def original_frames(path: Path, t_s: float):
    """64x36 grey pictures of the first frame at or after ``t_s`` (from the first video
    frame) and of the frame before it, decoded from the file itself."""
    import av
    import numpy as np

    prev = None
    with av.open(str(path)) as c:
        first = None
        for f in c.decode(video=0):
            first = f.pts if first is None else first
            grey = np.asarray(f.to_image().convert("L").resize((64, 36)), dtype=np.float32)
            if float((f.pts - first) * f.time_base) >= t_s - 1e-3:
                return grey, prev
            prev = grey
    raise AssertionError(f"no frame at {t_s}")


def not_black(browser, element_id: str) -> bool:
    """The picture shown has light and detail (a black or flat frame has neither)."""
    import numpy as np

    luma = np.array(browser.execute_script(GRAY_64x36, element_id), dtype=np.float32)
    return float(luma.mean()) > 8 and float(luma.std()) > 4


def test_search_open_a_hit_play_at_the_in_point(site, browser, shots: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _, url = site
    browser.get(url + "/")
    box = wait(browser, "document.querySelector('input[type=search]')", "the search box")
    wait(browser, "document.querySelectorAll('.card img').length > 0", "the archive's clips")
    browser.save_screenshot(str(shots / "home.png"))
    box.send_keys("hamilton", Keys.ENTER)
    n = wait(browser, "document.querySelectorAll('#results .card').length", "search hits")
    assert n == 1  # the best shot of the file, with its other matching shots counted
    assert "+4 shots" in browser.find_element(By.CSS_SELECTOR, "#results .card").text
    browser.find_element(By.CSS_SELECTOR, "input[name=all_shots]").click()  # every shot
    browser.find_element(By.CSS_SELECTOR, "input[type=search]").send_keys(Keys.ENTER)
    n = wait(browser, "document.querySelectorAll('#results .card').length > 1 && "
                      "document.querySelectorAll('#results .card').length", "every shot")
    assert n >= 2
    wait(browser, "[...document.querySelectorAll('#results .card img')]"
                  ".every(i => i.complete && i.naturalWidth > 0)", "thumbnails")
    browser.save_screenshot(str(shots / "search.png"))
    # collect two shots in the selects bin
    browser.execute_script("localStorage.clear(); window.dispatchEvent(new Event('bin'));")
    for add in browser.find_elements(By.CSS_SELECTOR, "#results .card .add")[:2]:
        browser.execute_script("arguments[0].click()", add)
    assert browser.find_element(By.ID, "bin-count").text == "2"
    browser.find_element(By.ID, "bin-toggle").click()
    assert len(browser.find_elements(By.CSS_SELECTOR, "#bin .item")) == 2
    wait(browser, "[...document.querySelectorAll('#bin .item img')]"
                  ".every(i => i.complete && i.naturalWidth > 0)", "selects thumbnails")
    browser.save_screenshot(str(shots / "selects.png"))
    browser.find_element(By.ID, "bin-toggle").click()
    # the first hit that is not the file's first shot: the player must seek
    cards = browser.find_elements(By.CSS_SELECTOR, "#results .card")
    hits = get_json(url + "/api/search?q=hamilton&limit=40&all_shots=true")["results"]
    hit = next(h for h in hits if h["start_s"] > 1.0)
    card = next(c for c in cards if c.get_attribute("data-segment") == str(hit["segment_id"]))
    card.click()
    wait(browser, "document.getElementById('player') && "
                  "document.getElementById('player').readyState >= 2 && "
                  "!document.getElementById('player').seeking && "
                  "document.getElementById('player').currentTime > 0", "the player at the hit")
    import numpy as np

    t = browser.execute_script("return document.getElementById('player').currentTime")
    rate = 30000 / 1001
    offset = hit["play"]["offset_s"]  # the clip's video starts 0.85 s into the file
    assert offset > 0.5
    assert abs(t - offset - hit["start_s"]) <= 1.0 / rate, (t, offset, hit["start_s"])
    assert browser.find_element(By.ID, "tc").text == hit["tc_in"]
    assert not_black(browser, "player")
    # the picture is the hit's first frame, not the previous shot's last one
    shown = np.array(browser.execute_script(GRAY_64x36, "player"), dtype=np.float32)
    at_in, before = original_frames(Path(hit["path"]), hit["start_s"])
    assert np.abs(shown - at_in.ravel()).mean() < np.abs(shown - before.ravel()).mean()
    marks = browser.find_element(By.ID, "marks").text
    assert hit["tc_in"] in marks and hit["tc_out"] in marks
    # J/K/L and frame steps as editors expect
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.ARROW_RIGHT)
    wait(browser, "!document.getElementById('player').seeking", "a frame step")
    t2 = browser.execute_script("return document.getElementById('player').currentTime")
    assert t2 - t == pytest.approx(1.0 / rate, abs=0.2 / rate)
    assert browser.find_element(By.ID, "tc").text != hit["tc_in"]
    body.send_keys("l")
    wait(browser, "!document.getElementById('player').paused", "playing (L)")
    body.send_keys("k")
    wait(browser, "document.getElementById('player').paused", "paused (K)")
    browser.save_screenshot(str(shots / "player.png"))
    no_errors(browser)


def test_no_good_match_shows_the_nearest_under_weak_matches(site, browser, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    from assetdb.search import SearchRequest, search

    store, url = site
    q = "two quarterly tax spreadsheets"  # only the file name two_people.jpg, one word of four
    want = search(store, SearchRequest(query=q, weak=3))
    assert want and all(h.weak for h in want)
    browser.get(url + "/#/search?q=" + q.replace(" ", "%20"))
    n = wait(browser, "document.querySelectorAll('#weak-results .card').length",
             "the weak matches")
    assert n == len(want)
    assert not browser.find_elements(By.CSS_SELECTOR, "#results .card")
    assert browser.find_element(By.CSS_SELECTOR, "h2.weak-heading").text.lower() == "weak matches"
    assert "No good match" in browser.find_element(By.CSS_SELECTOR, ".empty").text
    segs = [c.get_attribute("data-segment")
            for c in browser.find_elements(By.CSS_SELECTOR, "#weak-results .card")]
    assert segs == [str(h.segment_id) for h in want]
    browser.save_screenshot(str(shots / "weak.png"))
    no_errors(browser)


def test_a_proxy_plays_where_the_original_cannot(site, browser, shots: Path) -> None:
    _, url = site
    tree = next(a for a in get_json(url + "/api/assets")["assets"] if a["name"] == "tree.avi")
    browser.get(f"{url}/#/asset/{tree['id']}?t=12&in=12&out=14")
    wait(browser, "document.getElementById('player') && "
                  "document.getElementById('player').readyState >= 2 && "
                  "!document.getElementById('player').seeking", "the proxy")
    src = browser.execute_script("return document.getElementById('player').currentSrc")
    assert src.endswith(f"/api/assets/{tree['id']}/proxy")
    t = browser.execute_script("return document.getElementById('player').currentTime")
    assert abs(t - 12) < 0.5
    assert not_black(browser, "player")
    browser.save_screenshot(str(shots / "asset-proxy.png"))
    no_errors(browser)


def test_name_a_person_and_find_them(site, browser, shots: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _, url = site
    browser.get(url + "/#/persons")
    wait(browser, "document.querySelectorAll('.person img').length > 1", "person cards")
    browser.save_screenshot(str(shots / "persons.png"))
    persons = get_json(url + "/api/persons")["persons"]
    top = max(persons, key=lambda p: p["faces"])
    browser.find_element(By.CSS_SELECTOR, f".person[data-person='{top['id']}']").click()
    field = wait(browser, "document.getElementById('person-name')", "the person page")
    wait(browser, "document.querySelectorAll('.facegrid .face img').length > 0", "faces")
    browser.save_screenshot(str(shots / "person.png"))
    field.send_keys("Lin-Manuel Miranda")
    browser.find_element(By.ID, "save-name").click()
    wait(browser, "document.querySelector('h1') && "
                  "document.querySelector('h1').textContent === 'Lin-Manuel Miranda'", "the name")
    browser.get(url + "/#/search")
    person = wait(browser, "document.querySelector('input[name=person]')", "the search page")
    person.send_keys("Lin-Manuel Miranda", Keys.ENTER)
    n = wait(browser, "document.querySelectorAll('#results .card').length", "hits of the person")
    names = browser.execute_script(
        "return [...document.querySelectorAll('#results .card .name')].map(e => e.textContent)")
    assert n >= 1 and set(names) == {"short_hamilton_clip.mp4"}
    no_errors(browser)


def test_build_a_reel(site, browser, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    _, url = site
    hamilton = next(a for a in get_json(url + "/api/assets?kind=video")["assets"]
                    if a["name"] == "short_hamilton_clip.mp4")
    browser.get(f"{url}/#/highlights?asset={hamilton['id']}")
    wait(browser, "document.getElementById('hl-build')", "the highlights page")
    dur = browser.find_element(By.ID, "hl-duration")
    dur.clear()
    dur.send_keys("5")
    browser.find_element(By.ID, "hl-build").click()
    n = wait(browser, "document.querySelectorAll('#reel-clips .clip').length", "the reel", 180)
    assert n >= 1
    browser.find_element(By.XPATH, "//button[contains(., 'Preview reel')]").click()
    wait(browser, "!document.getElementById('reel-player').paused", "the reel preview")
    browser.save_screenshot(str(shots / "highlights.png"))
    for page, name in (("#/assets", "assets"), ("#/status", "status")):
        browser.get(f"{url}/{page}")
        wait(browser, "document.querySelector('h1')", name)
        time.sleep(0.5)
        browser.save_screenshot(str(shots / f"{name}.png"))
    no_errors(browser)
