"""The console in a real browser: Debian's headless Chromium driven by Selenium (chromium-driver).

Starts a node (the binary given as the first argument) on a free loopback port with the embedded
store and the simulated dialer, then goes through an operator's day: a wrong key refused, sign
in, a campaign created from a CSV upload, scheduled, its progress moving, paused (no progress
while paused), a window edit refused with the error beside its field then a valid one, resumed,
completed; the do-not-call list and dead letters; another organisation sees none of it.
Screenshots of each page go to target/console-screenshots/.

With `--measure N`, instead: N campaigns are created and the campaigns page's weight and time to
first render are printed (median of five loads).
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

ACME = "acme-console-key-0123456789"
GLOBEX = "globex-console-key-0123456789"
SHOTS = os.path.join("target", "console-screenshots")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    """A node process on a free loopback port, stopped on exit."""

    def __init__(self, binary):
        self.port = free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PACER_LISTEN": f"127.0.0.1:{self.port}",
            "PACER_API_KEYS": f"acme:{ACME},globex:{GLOBEX}",
            "PACER_SIMULATED_CALL_MS": "300..700",
            "PACER_SIMULATED_OUTCOMES": "completed=100",
            "PACER_RATE_LIMIT_PER_SEC": "10000",
            "PACER_RATE_LIMIT_BURST": "10000",
            "RUST_LOG": "warn",
        }
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen([binary, "serve"], env=env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.root + "/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise SystemExit("console_test: the node did not start")

    def api(self, method, path, body=None, key=ACME):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.root + "/api/public/v1" + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {key}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1366,900"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait_for(driver, check, what, timeout=20):
    """Waits until `check(driver)` is truthy; fails naming `what`."""
    try:
        # The pages redraw every second: an element found may be replaced before it is read.
        ignored = (StaleElementReferenceException, NoSuchElementException, AttributeError)
        return WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=ignored).until(check)
    except Exception as error:
        raise AssertionError(f"timed out waiting for: {what}") from error


def shot(driver, name):
    driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def text(driver, selector):
    """The rendered text of the first element matching `selector`, read in one step of the page
    (the pages redraw every second: an element found first could be gone when read)."""
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : ''", selector)


def click(driver, find, what):
    """Clicks what `find(driver)` finds, finding it again if the page redrew it meanwhile."""
    wait_for(driver, lambda d: find(d).click() or True, what)


def sign_in(driver, root, key):
    driver.get(root + "/console#/login")
    field = wait_for(driver, lambda d: d.find_element(By.ID, "api-key"), "the sign-in form")
    field.clear()
    field.send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()


def row_of(driver, campaign_id):
    rows = driver.find_elements(By.CSS_SELECTOR, f"tr[data-id='{campaign_id}']")
    return rows[0] if rows else None


def progress_of(driver):
    """The campaign page's progress: (done, total) from its <progress> element, in one read."""
    return tuple(driver.execute_script(
        "const b = document.querySelector('#main .actions progress');"
        "return b ? [Number(b.value), Number(b.max)] : [-1, -1]"))


def operator_day(node, driver):
    os.makedirs(SHOTS, exist_ok=True)
    # A wrong key is refused where it was typed.
    sign_in(driver, node.root, "wrong-key-0123456789")
    wait_for(driver, lambda d: "refused" in text(d, "#key-error"), "the wrong key refused")
    assert driver.find_element(By.ID, "api-key").get_attribute("aria-invalid") == "true"
    shot(driver, "1-sign-in-refused")

    sign_in(driver, node.root, ACME)
    wait_for(driver, lambda d: d.find_elements(By.ID, "status-filter"), "the campaigns page")
    assert driver.execute_script("return sessionStorage.getItem('pacer.key')") == ACME
    assert driver.execute_script("return localStorage.length") == 0, "the key is in session storage only"

    # A campaign from a CSV upload: 40 numbers, two rows refused.
    rows = ["phone_number,first_name,plan"] + [f"+1555{index:07d},Caller {index},gold" for index in range(40)]
    rows += ["not a number,x,y", "+15550000000,dup,y"]
    upload = os.path.abspath(os.path.join(SHOTS, "contacts.csv"))
    with open(upload, "w", encoding="utf-8") as handle:
        handle.write("\r\n".join(rows) + "\r\n")
    driver.find_element(By.CSS_SELECTOR, "details summary").click()
    driver.find_element(By.ID, "new-name").send_keys("Browser campaign")
    driver.find_element(By.ID, "new-agent").send_keys("agent_1")
    driver.find_element(By.ID, "new-file").send_keys(upload)
    for day in range(6, 8):
        driver.find_element(By.ID, f"new-day-{day}").click()
    concurrency = driver.find_element(By.ID, "new-max_concurrent_calls")
    concurrency.clear()
    concurrency.send_keys("2")
    shot(driver, "2-new-campaign-form")
    driver.find_element(By.CSS_SELECTOR, "details form button[type=submit]").click()
    wait_for(driver, lambda d: "40 contacts imported, 2 not" in text(d, "#new-result"), "the import's answer")
    assert "1 duplicate" in text(driver, "#new-result") and "1 invalid_number" in text(driver, "#new-result")
    status, listed = node.api("GET", "/batch-calls")
    campaign = listed["data"][0]
    campaign_id = campaign["id"]
    assert campaign["total_contacts"] == 40, campaign

    # Schedule from the table; progress moves.
    wait_for(driver, lambda d: row_of(d, campaign_id), "the campaign's row")
    click(driver, lambda d: row_of(d, campaign_id).find_element(By.CSS_SELECTOR, "button[data-command=schedule]"),
          "the schedule button")
    wait_for(driver, lambda d: "active" in row_of(d, campaign_id).find_element(By.CSS_SELECTOR, ".status-cell").text, "active")
    wait_for(driver, lambda d: int(row_of(d, campaign_id).find_element(By.CSS_SELECTOR, "progress").get_attribute("value")) >= 2,
             "progress in the table")
    shot(driver, "3-campaigns-running")

    # The campaign's page; pause: once the calls in flight end, no progress while paused.
    click(driver, lambda d: row_of(d, campaign_id).find_element(By.CSS_SELECTOR, "a"), "the campaign's link")
    wait_for(driver, lambda d: d.find_elements(By.ID, "edit-form"), "the campaign page")
    click(driver, lambda d: d.find_element(By.CSS_SELECTOR, "button[data-command=pause]"), "the pause button")
    wait_for(driver, lambda d: "pause → paused" in text(d, "#notice"), "the pause's answer")
    wait_for(driver, lambda d: node.api("GET", f"/batch-calls/{campaign_id}")[1]["data"]["in_progress"] == 0,
             "the calls in flight to end")
    time.sleep(1.2)
    paused_at = progress_of(driver)
    assert paused_at[0] < 40, f"the campaign ended before the pause: {paused_at}"
    time.sleep(3)
    assert progress_of(driver) == paused_at, "no progress while paused"
    assert "paused" in text(driver, "#main h1")
    shot(driver, "4-campaign-paused")

    # A window edit with an error, shown beside its field; then a valid one.
    end = driver.find_element(By.ID, "edit-end_time")
    end.clear()
    end.send_keys("25:00")
    driver.find_element(By.CSS_SELECTOR, "#edit-form button[type=submit]").click()
    wait_for(driver, lambda d: text(d, "#edit-end_time-error"), "the field error")
    assert end.get_attribute("aria-invalid") == "true"
    shot(driver, "5-edit-field-error")
    now = datetime.now(timezone.utc)
    if now.hour == 23 and now.minute >= 55:
        time.sleep((60 - now.minute) * 60 - now.second + 5)
    start = driver.find_element(By.ID, "edit-start_time")
    start.clear()
    start.send_keys("00:00")
    end.clear()
    end.send_keys("23:59")
    driver.find_element(By.CSS_SELECTOR, "#edit-form button[type=submit]").click()
    wait_for(driver, lambda d: "The schedule was saved" in text(d, "#notice"), "the valid edit saved")
    assert text(driver, "#edit-end_time-error") == ""
    status, stored = node.api("GET", f"/batch-calls/{campaign_id}")
    assert (stored["data"]["start_time"], stored["data"]["end_time"]) == ("00:00", "23:59"), stored["data"]
    assert progress_of(driver) == paused_at, "an edit while paused places no call"

    # Resume; it completes.
    click(driver, lambda d: d.find_element(By.CSS_SELECTOR, "button[data-command=resume]"), "the resume button")
    wait_for(driver, lambda d: "completed" in text(d, "#main h1"), "the campaign completed", timeout=60)
    assert progress_of(driver) == (40, 40)
    wait_for(driver, lambda d: "completed" in text(d, "#outcomes"), "the outcome chart")
    shot(driver, "6-campaign-completed")

    # A refused command shows the campaign's current status (409).
    status, second = node.api("POST", "/batch-calls", {"name": "Second", "agent_id": "a", "contacts": [{"phone_number": "+15559990001"}]})
    assert status == 201
    driver.get(node.root + "/console#/campaigns")
    wait_for(driver, lambda d: row_of(d, second["data"]["id"]), "the second campaign's row")
    driver.execute_script("clearInterval(view.timer)")  # hold the page as it is
    node.api("POST", f"/batch-calls/{second['data']['id']}/cancel")
    row_of(driver, second["data"]["id"]).find_element(By.CSS_SELECTOR, "button[data-command=cancel]").click()
    wait_for(driver, lambda d: "(the campaign is cancelled)" in text(d, "#notice"), "the 409's current status")
    assert "409" in text(driver, "#notice")
    shot(driver, "7-campaigns-409")

    # Filters: only completed campaigns.
    driver.get(node.root + "/console#/campaigns")
    Select(wait_for(driver, lambda d: d.find_element(By.ID, "status-filter"), "the filter")).select_by_value("completed")
    wait_for(driver, lambda d: row_of(d, campaign_id) and not row_of(d, second["data"]["id"]), "the status filter")

    # The do-not-call list: add, then it is listed; dead letters.
    driver.get(node.root + "/console#/dnc")
    wait_for(driver, lambda d: d.find_elements(By.ID, "dnc-number"), "the do-not-call page")
    driver.find_element(By.ID, "dnc-number").send_keys("+15557770001")
    driver.find_element(By.ID, "dnc-reason").send_keys("asked")
    driver.find_element(By.CSS_SELECTOR, "#main form button[type=submit]").click()
    wait_for(driver, lambda d: "+15557770001" in text(d, "#main table"), "the entry listed")
    status, entry = node.api("GET", "/dnc/+15557770001")
    assert status == 200 and entry["data"]["reason"] == "asked"
    shot(driver, "8-dnc")
    driver.get(node.root + "/console#/dead-letters")
    wait_for(driver, lambda d: "None." in text(d, "#main table"), "the dead letters page")
    shot(driver, "9-dead-letters")
    driver.get(node.root + "/api/public/v1/docs")
    wait_for(driver, lambda d: "/batch-calls/{id}/contacts/import" in text(d, "#main"), "the API reference")
    shot(driver, "10-api-reference")

    # Another organisation sees none of it.
    driver.get(node.root + "/console")
    driver.find_element(By.ID, "sign-out").click()
    sign_in(driver, node.root, GLOBEX)
    wait_for(driver, lambda d: "No campaign." in text(d, "#main table"), "globex's empty list")
    driver.get(node.root + f"/console#/campaigns/{campaign_id}")
    wait_for(driver, lambda d: "404" in text(d, "#notice"), "acme's campaign not found for globex")
    shot(driver, "11-other-organisation")
    # The refused answers above (401, 422, 409, 404) are logged as network errors; no script error.
    logs = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE" and entry["source"] != "network"]
    assert not logs, f"script errors in the browser: {logs}"


def measure(node, driver, n_campaigns):
    for index in range(n_campaigns):
        status, _ = node.api("POST", "/batch-calls", {"name": f"Campaign {index}", "agent_id": "a",
                                                       "contacts": [{"phone_number": f"+1555{index:07d}"}]})
        assert status == 201
    renders, weights, details = [], [], []
    for _ in range(5):
        driver.get(node.root + "/console#/campaigns")
        driver.execute_script("sessionStorage.setItem('pacer.key', arguments[0])", ACME)
        driver.get(node.root + "/console?again#/campaigns")
        wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "tbody tr[data-id]")) == 25, "the first page")
        timing = driver.execute_script("""
            const nav = performance.getEntriesByType('navigation')[0];
            const resources = performance.getEntriesByType('resource');
            const own = resources.filter(r => r.name.includes('/console/'));
            const rendered = performance.getEntriesByName('pacer:campaigns-rendered')[0];
            const list = resources.find(r => r.name.includes('/batch-calls?'));
            return { first_render_ms: rendered.startTime, dom_ms: nav.domContentLoadedEventEnd,
                     list_ms: list.responseEnd - list.startTime,
                     weight: nav.transferSize + own.reduce((s, r) => s + r.transferSize, 0),
                     decoded: nav.decodedBodySize + own.reduce((s, r) => s + r.decodedBodySize, 0) };""")
        renders.append(timing["first_render_ms"])
        details.append((round(timing["dom_ms"]), round(timing["list_ms"])))
        weights.append((timing["weight"], timing["decoded"]))
    print(json.dumps({"campaigns": n_campaigns, "first_render_ms_runs": [round(r) for r in renders],
                      "first_render_ms_median": round(statistics.median(renders)),
                      "(dom_content_loaded_ms, list_request_ms) per run": details,
                      "page_weight_bytes (transferred, decoded)": weights[0]}))


def main():
    binary = sys.argv[1]
    node = Node(binary)
    driver = browser()
    try:
        if len(sys.argv) > 3 and sys.argv[2] == "--measure":
            measure(node, driver, int(sys.argv[3]))
        else:
            operator_day(node, driver)
            print(f"console_test: every check passed; screenshots in {SHOTS}/")
    except BaseException:
        print("console_test: the node's output:\n" + node.output(), file=sys.stderr)
        try:
            shot(driver, "failure")
        except Exception:  # noqa: BLE001 - the screenshot is a courtesy
            pass
        raise
    finally:
        driver.quit()
        node.stop()


if __name__ == "__main__":
    main()
