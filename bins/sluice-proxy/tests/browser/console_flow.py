"""The reviewers' console in headless Chromium (Debian's chromium and
chromedriver, driven by selenium), against a running sluice-proxy whose
upstream is Postfix's smtp-sink. Run by tests/console.rs, which starts the
peers, sends the messages and passes their addresses in the environment.

Every check raises on failure; the last line printed is "console flow: ok".
"""

import glob
import http.client
import json
import os
import re
import sys
import time
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE = os.environ["CONSOLE"]
HOST = urllib.parse.urlparse(BASE).netloc
TOKEN = os.environ["TOKEN"]
SINK = os.environ["SINK_DIR"]
SHOTS = os.environ["SCREENSHOTS"]
CROSS_SITE = os.environ["CROSS_SITE"]
SESSION_TTL = int(os.environ["SESSION_TTL"])
XSS = "<img src=x onerror=alert(1)>"


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,900"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def api(path):
    req = urllib.request.Request(BASE + path, headers={"Authorization": "Bearer " + TOKEN})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)["data"]


def text(d):
    return d.find_element(By.TAG_NAME, "body").text


def no_alert(d, where):
    try:
        d.switch_to.alert
    except NoAlertPresentException:
        return
    raise AssertionError(f"a script ran on {where}")


def sign_in(d, name, password):
    d.get(BASE + "/login")
    d.find_element(By.ID, "username").send_keys(name)
    d.find_element(By.ID, "password").send_keys(password)
    follow(d, d.find_element(By.CSS_SELECTOR, "form.signin button"))


def follow(d, element):
    """Clicks a link or a submit button and waits for the page it leads to
    (a click alone does not wait for the navigation it starts)."""
    old = d.find_element(By.TAG_NAME, "html")
    element.click()
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            old.tag_name
        except WebDriverException:
            # Stale (chromedriver may say so as "does not belong to the
            # document"): the new page is there.
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the click led nowhere: " + d.current_url)
    WebDriverWait(d, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")


def sink_files():
    return sorted(glob.glob(os.path.join(SINK, "*")))


def wait_for_sink(pred, what, seconds=15):
    deadline = time.time() + seconds
    while time.time() < deadline:
        for f in sink_files():
            with open(f, "rb") as fh:
                body = fh.read().decode("utf-8", "replace")
            if pred(body):
                return body
        time.sleep(0.2)
    raise AssertionError("never arrived at smtp-sink: " + what)


def shoot(d, name):
    d.save_screenshot(os.path.join(SHOTS, name + ".png"))


def sign_in_and_out(d):
    d.get(BASE + "/incidents")
    check("/login" in d.current_url, "an anonymous visit goes to sign-in")
    shoot(d, "sign-in")
    sign_in(d, "rev", "wrong password!")
    check("Wrong name or password" in text(d), "a wrong password is refused: " + d.current_url + " " + text(d)[:300])
    sign_in(d, "rev", os.environ["REVIEWER_PASSWORD"])
    check(d.current_url.endswith("/incidents"), "signed in: " + d.current_url)
    check("rev (reviewer)" in text(d), "the header names the reviewer")


def incidents_and_xss(d):
    d.get(BASE + "/incidents")
    body = text(d)
    check("Card block" in body and "Board papers" in body, "incidents listed: " + body[:500])
    check(XSS in body, "the XSS subject shows as text")
    check('"%s"@example.com' % XSS in body, "the XSS sender shows as text")
    check(not d.find_elements(By.CSS_SELECTOR, "main img"), "no <img> made from a subject")
    no_alert(d, "incidents")
    shoot(d, "incidents")
    d.set_window_size(390, 844)
    shoot(d, "incidents-phone")
    d.set_window_size(1280, 900)
    # A query, then a bad one with its position shown.
    d.find_element(By.ID, "query").clear()
    d.find_element(By.ID, "query").send_keys("policy eq 'card block'")
    follow(d, d.find_element(By.CSS_SELECTOR, "form.filters button"))
    rows = d.find_elements(By.CSS_SELECTOR, "tbody tr")
    check(rows and all("Card block" in r.text for r in rows), "the query filters")
    # A newcomer's way: last hour's incidents of a policy picked from a list.
    d.find_element(By.ID, "query").clear()
    Select(d.find_element(By.ID, "policy")).select_by_visible_text("Board papers held")
    Select(d.find_element(By.ID, "period")).select_by_visible_text("Last hour")
    follow(d, d.find_element(By.CSS_SELECTOR, "form.filters button"))
    rows = d.find_elements(By.CSS_SELECTOR, "tbody tr")
    check(len(rows) == 3 and all("Board papers held" in r.text for r in rows),
          "the policy list filters: %r" % [r.text for r in rows])
    Select(d.find_element(By.ID, "policy")).select_by_visible_text("Any policy")
    d.find_element(By.ID, "query").clear()
    d.find_element(By.ID, "query").send_keys("policy eq")
    follow(d, d.find_element(By.CSS_SELECTOR, "form.filters button"))
    check("Query error at position 10" in text(d), "a bad query names its position: " + text(d)[:400])
    # One incident, with the attachment's XSS file name as text.
    d.get(BASE + "/incidents?query=" + urllib.parse.quote("policy eq 'card block'"))
    follow(d, d.find_element(By.CSS_SELECTOR, "tbody tr a"))
    body = text(d)
    check("Evidence" in body and "Card numbers" in body, "the incident page")
    check("1111" in body and "4111 1111 1111 1111" not in body, "the card is masked")
    check(XSS in body, "the XSS file name shows as text")
    no_alert(d, "the incident")
    # Triage, audited.
    d.find_element(By.ID, "state").send_keys("false-positive")
    d.find_element(By.ID, "note").send_keys("test card")
    follow(d, d.find_element(By.CSS_SELECTOR, "form.triage button"))
    check("false-positive by user:rev" in text(d), "triage saved: " + text(d)[:800])
    shoot(d, "incident")


def reviewer_is_not_admin(d):
    for page in ["/audit", "/users"]:
        d.get(BASE + page)
        check("This page is for admins" in text(d), "a reviewer cannot open " + page)


def held_ids():
    return {h["subject"]: h["id"] for h in api("/api/v1/quarantine")}


def release_and_delete(d):
    held = held_ids()
    check(len(held) == 3, "three held messages: %r" % held)
    d.get(BASE + "/quarantine")
    check(XSS in text(d), "the quarantine shows the XSS subject as text")
    no_alert(d, "quarantine")
    shoot(d, "quarantine")
    d.get(BASE + "/quarantine/" + held["Board minutes for release"])
    body = text(d)
    check("Text of the message" in body, "the preview")
    check("Held by the policy Board papers held" in body and "document board-minutes" in body,
          "the held message says why it is held: " + body[:1500])
    shoot(d, "held-message")
    follow(d, d.find_element(By.LINK_TEXT, "Release…"))
    check("Release this message?" in text(d), "a confirmation first")
    follow(d, d.find_element(By.CSS_SELECTOR, "main form button"))
    check("Released to every recipient" in text(d), "the release result: " + text(d)[:500])
    wait_for_sink(lambda b: re.search(r"(?m)^Subject: Board minutes for release", b), "the released message")
    d.get(BASE + "/quarantine/" + held[XSS])
    no_alert(d, "the XSS held message")
    follow(d, d.find_element(By.LINK_TEXT, "Delete…"))
    follow(d, d.find_element(By.CSS_SELECTOR, "main form button"))
    check(d.current_url.endswith("/quarantine"), "back to the quarantine after a delete")
    check(set(held_ids()) == {"Board minutes, please release"}, "one left: %r" % held_ids())


def cross_site_post_is_refused(d):
    target = held_ids()["Board minutes, please release"]
    # A page on another origin whose form posts a delete to the console.
    d.get(CROSS_SITE + "/?target=" + urllib.parse.quote(BASE + "/quarantine/" + target + "/delete"))
    follow(d, d.find_element(By.ID, "go"))
    time.sleep(0.5)
    check(target in held_ids().values(), "a cross-site post deleted nothing")
    # Without the browser's SameSite protection: the Origin check refuses.
    conn = http.client.HTTPConnection(HOST, timeout=10)
    d.get(BASE + "/incidents")
    cookie = d.get_cookie("sluice_session")
    conn.request("POST", "/quarantine/%s/delete" % target, body="csrf=x",
                 headers={"Origin": "http://evil.example", "Cookie": "sluice_session=" + cookie["value"],
                          "Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse()
    check(r.status == 403, "a foreign Origin is refused: %d" % r.status)
    r.read()
    # Same origin but no CSRF token: refused too.
    conn = http.client.HTTPConnection(HOST, timeout=10)
    conn.request("POST", "/quarantine/%s/delete" % target, body="csrf=forged",
                 headers={"Origin": BASE, "Cookie": "sluice_session=" + cookie["value"],
                          "Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse()
    check(r.status == 403, "a forged CSRF token is refused: %d" % r.status)
    r.read()
    # The API takes tokens only: the session cookie opens none of it.
    conn = http.client.HTTPConnection(HOST, timeout=10)
    conn.request("GET", "/api/v1/quarantine", headers={"Cookie": "sluice_session=" + cookie["value"]})
    r = conn.getresponse()
    check(r.status == 401, "the API refuses a session cookie: %d" % r.status)
    r.read()
    check(target in held_ids().values(), "still held")


def release_request_flow(d):
    notice = wait_for_sink(lambda b: "Board minutes, please release" in b and "/request/" in b,
                           "the quarantine notice with its link")
    link = re.search(r"(http://\S+/request/\S+)", notice).group(1)
    sender = browser()
    try:
        sender.get(link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"))
        check("This link is not valid" in text(sender), "a tampered link is refused")
        sender.get(link)
        check("Board minutes, please release" in text(sender), "the link shows the subject")
        check("Text of the message" not in text(sender), "and nothing of the content")
        sender.find_element(By.ID, "justification").send_keys("The board asked for it today.")
        follow(sender, sender.find_element(By.CSS_SELECTOR, "main form button"))
        check("Your request was recorded" in text(sender), "the request is recorded")
        shoot(sender, "release-request")
        wait_for_sink(lambda b: "Release requested: Board minutes, please release" in b,
                      "the reviewers' notice")
        d.get(BASE + "/requests")
        check("The board asked for it today." in text(d), "the reviewer sees the request")
        shoot(d, "requests")
        follow(d, d.find_element(By.XPATH, "//button[text()='Approve and release']"))
        check("Released to every recipient" in text(d), "approved and released")
        wait_for_sink(lambda b: re.search(r"(?m)^Subject: Board minutes, please release", b),
                      "the released message")
        wait_for_sink(lambda b: "Release request approved" in b, "the sender's outcome")
        sender.get(link)
        check("approved" in text(sender) and "justification" not in sender.page_source,
              "the link now shows only the outcome")
    finally:
        sender.quit()


def admin_pages():
    d = browser()
    try:
        sign_in(d, "ana", os.environ["ADMIN_PASSWORD"])
        d.get(BASE + "/audit")
        body = text(d)
        for action in ["sign-in-failed", "sign-in", "triage", "release", "delete",
                       "release-request", "request-approve"]:
            check(action in body, "the audit log has " + action)
        shoot(d, "audit")
        d.get(BASE + "/users")
        check("rev" in text(d) and "reviewer" in text(d), "the users page")
    finally:
        d.quit()


def session_expires_and_sign_out(d):
    sign_in(d, "rev", os.environ["REVIEWER_PASSWORD"])
    check(d.current_url.endswith("/incidents"), "signed in again")
    time.sleep(SESSION_TTL + 1)
    d.get(BASE + "/quarantine")
    check("/login" in d.current_url, "an expired session goes back to sign-in")
    sign_in(d, "rev", os.environ["REVIEWER_PASSWORD"])
    follow(d, d.find_element(By.CSS_SELECTOR, "form.signout button"))
    check("/login" in d.current_url, "signed out")
    d.get(BASE + "/incidents")
    check("/login" in d.current_url, "no way back in after signing out")


def main():
    d = browser()
    try:
        sign_in_and_out(d)
        # Sessions are short here (the test waits one out at the end): each
        # part starts with a fresh one.
        for part in [incidents_and_xss, reviewer_is_not_admin, release_and_delete,
                     cross_site_post_is_refused, release_request_flow]:
            sign_in(d, "rev", os.environ["REVIEWER_PASSWORD"])
            part(d)
        admin_pages()
        session_expires_and_sign_out(d)
    finally:
        d.quit()
    print("console flow: ok")


if __name__ == "__main__":
    sys.exit(main())
