#!/usr/bin/env python3
"""Compare `sluice-scan extract` with Python's `email` package on a corpus.

For every message, every text/plain and text/html part that Python's email
package (policy.default) can decode is split into words (HTML first reduced
to its text with html.parser, script/style dropped). Each word must occur
among the words Sluice extracted from the same message. Prints the share of
words found and every miss; exits 1 if a message failed to extract, or if
the share is below --min-share.

Usage: corpus_fidelity.py SLUICE_SCAN CORPUS_DIR [--min-share PCT] [--show N]
"""
import argparse
import email
import email.policy
import html.parser
import json
import pathlib
import re
import subprocess
import sys

WORD = re.compile(r"\w+", re.UNICODE)


# Block and line elements separate words (SPEC 3.1); inline markup does not.
BLOCK = {"p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6",
         "table", "blockquote", "pre", "hr", "title", "body", "html", "head", "ul", "ol"}


class TextOf(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.hidden = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.hidden += 1
        if tag in BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.hidden:
            self.hidden -= 1
        if tag in BLOCK:
            self.out.append("\n")

    def handle_data(self, data):
        if not self.hidden:
            self.out.append(data)


def words(text):
    return {w.casefold() for w in WORD.findall(text)}


def reference_words(text):
    """Words of Python's text, less fragments of characters Python could not
    decode (a word touching U+FFFD is half a word)."""
    out = set()
    for m in WORD.finditer(text):
        before = text[m.start() - 1] if m.start() > 0 else ""
        after = text[m.end()] if m.end() < len(text) else ""
        if "\ufffd" not in (before, after):
            out.add(m.group().casefold())
    return out


B64_LINE = re.compile(r"^[A-Za-z0-9+/]{16,}={0,2}$")
UU_BEGIN = re.compile(r"^begin [0-7]{3,4} \S", re.M)


def left_encoded(text):
    """Why Python's text is evidently not decoded text, or None: it kept a
    base64 or uuencoded body as it was, or decoded binary data as text."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    if lines and sum(bool(B64_LINE.match(l)) for l in lines) * 2 > len(lines):
        return "base64 left encoded"
    if UU_BEGIN.search(text) and re.search(r"^end\s*$", text, re.M):
        return "uuencode left encoded"
    bad = sum(1 for c in text if c == "\ufffd" or (ord(c) < 32 and c not in "\t\r\n\f\v"))
    if text and bad * 20 > len(text):
        return "binary decoded as text"
    return None


def python_words(raw):
    """Words of each text part Python can decode: [(part description, words)]."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    result = []
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        subtype = part.get_content_subtype()
        if subtype not in ("plain", "html"):
            continue
        try:
            text = part.get_content()
        except Exception:
            continue  # Python cannot decode it either: not a fidelity miss
        if not isinstance(text, str):
            continue
        if subtype == "html":
            p = TextOf()
            try:
                p.feed(text)
                p.close()
            except Exception:
                continue
            text = "".join(p.out)
        desc = f"{part.get_content_type()} {part.get_filename() or ''}".strip()
        result.append((desc, left_encoded(text), reference_words(text)))
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sluice_scan")
    ap.add_argument("corpus")
    ap.add_argument("--min-share", type=float, default=100.0)
    ap.add_argument("--show", type=int, default=40)
    args = ap.parse_args()

    files = sorted(pathlib.Path(args.corpus).rglob("*.eml"))
    if not files:
        print(f"no .eml files under {args.corpus}", file=sys.stderr)
        return 1
    run = subprocess.run(
        [args.sluice_scan, "extract", "--format", "json", *map(str, files)],
        capture_output=True, timeout=900,
    )
    lines = run.stdout.decode("utf-8").splitlines()
    failures = []
    if run.returncode != 0:
        failures.append(f"sluice-scan exited {run.returncode}: {run.stderr.decode(errors='replace')[-2000:]}")
    if len(lines) != len(files):
        failures.append(f"expected {len(files)} JSON lines, got {len(lines)}")
    total = found = 0
    misses, skipped = [], []
    for path, line in zip(files, lines):
        obj = json.loads(line)
        if obj["path"] != str(path):
            failures.append(f"output order: expected {path}, got {obj['path']}")
            continue
        if obj["error"] is not None:
            failures.append(f"{path}: error {obj['error']}")
            continue
        ours = set()
        for part in obj["parts"]:
            ours |= words(part["text"])
        for desc, excluded, theirs in python_words(path.read_bytes()):
            if excluded:
                skipped.append((path, desc, excluded))
                continue
            missing = theirs - ours
            total += len(theirs)
            found += len(theirs) - len(missing)
            if missing:
                misses.append((path, desc, len(theirs), sorted(missing)))
    share = 100.0 * found / total if total else 100.0
    print(f"corpus fidelity: {found}/{total} words of Python-decoded text parts found ({share:.3f}%) "
          f"in {len(files)} messages; {len(misses)} parts with misses")
    print(f"excluded {len(skipped)} parts Python did not decode:")
    for path, desc, why in skipped:
        print(f"  {path} [{desc}]: {why}")
    for path, desc, n, missing in misses[: args.show]:
        print(f"  miss {path} [{desc}] {len(missing)}/{n}: {' '.join(missing[:12])}")
    for f in failures:
        print(f"FAIL {f}")
    if failures or share < args.min_share:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
