#!/usr/bin/env python3
"""Memory of the proxy under load (issue 12): CONCURRENT clients each send
a SIZE MB message (a base64 CSV attachment with a dictionary term on every
line, scanned in full) through sluice-proxy to Postfix's smtp-sink at once.
The proxy's peak RSS (VmHWM) must stay within max_inflight_bytes + 256 MiB
and each extraction worker within max_extractor_memory; messages beyond the
in-flight budget wait at DATA and are answered 451 4.3.1 after 30 s, never
a crash or a 5xx.

  apt-get install postfix                     # smtp-sink
  cargo build --release -p sluice-proxy
  python3 benches/inflight_load.py [CONCURRENT] [SIZE_MB] [INFLIGHT_MIB]
"""
import base64, os, pathlib, shutil, smtplib, socket, subprocess, sys, tempfile, threading, time

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONCURRENT = int(sys.argv[1]) if len(sys.argv) > 1 else 100
SIZE_MB = int(sys.argv[2]) if len(sys.argv) > 2 else 50
INFLIGHT_MIB = int(sys.argv[3]) if len(sys.argv) > 3 else 2048


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def message():
    line = b"4711,Customer,Account Manager,Purchase date,2026-03-14,Seats,Sales Engineer\n"
    raw = line * (SIZE_MB * 1_000_000 * 3 // 4 // len(line))
    body = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    return (b"From: alice@example.com\r\nTo: bob@partner.org\r\nSubject: export\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
            b"--b\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename=export.csv\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + body + b"--b--\r\n")


def rss_kib(pid, field):
    try:
        for l in open(f"/proc/{pid}/status"):
            if l.startswith(field + ":"):
                return int(l.split()[1])
    except OSError:
        pass
    return 0


def children(pid):
    try:
        return [int(p) for p in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        return []


def main():
    work = pathlib.Path(tempfile.mkdtemp())
    sink_port, proxy_port = free_port(), free_port()
    sink = subprocess.Popen(["smtp-sink", "-u", "postfix", f"127.0.0.1:{sink_port}", "1000"])
    demo = work / "demo"
    demo.mkdir()
    shutil.copytree(ROOT / "fixtures/demo/dictionaries", demo / "dictionaries")
    shutil.copy(ROOT / "fixtures/demo/board.fp", demo)
    rules = (ROOT / "fixtures/demo/sluice.toml").read_text()
    rules = rules[rules.index("[[entity]]"):]
    (demo / "sluice.toml").write_text(
        f'[proxy]\nlisten = "127.0.0.1:{proxy_port}"\nhostname = "dlp.bench"\n'
        f'max_connections = {CONCURRENT + 50}\nmax_message_size = "{SIZE_MB + 10}MB"\n\n'
        f'[limits]\nmax_inflight_bytes = "{INFLIGHT_MIB}MiB"\n\n'
        f'[upstream]\naddress = "127.0.0.1:{sink_port}"\nstarttls = "off"\n\n'
        f'[store]\npath = "data/sluice.db"\n\n' + rules)
    proxy = subprocess.Popen([str(ROOT / "target/release/sluice-proxy"), "--config", str(demo / "sluice.toml")],
                             stderr=open(work / "proxy.log", "wb"))
    time.sleep(1)
    data = message()
    replies = []
    lock = threading.Lock()

    def send():
        try:
            with smtplib.SMTP("127.0.0.1", proxy_port, timeout=600) as c:
                c.ehlo("load.test")
                c.mail("alice@example.com", [f"SIZE={len(data)}"])
                c.rcpt("bob@partner.org")
                code, _ = c.data(data)
        except smtplib.SMTPResponseException as e:
            code = e.smtp_code
        except Exception as e:  # noqa: BLE001 - a lost connection is a result too
            code = f"error: {e}"
        with lock:
            replies.append(code)

    peak_worker = 0
    threads = [threading.Thread(target=send) for _ in range(CONCURRENT)]
    started = time.time()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        for child in children(proxy.pid):
            peak_worker = max(peak_worker, rss_kib(child, "VmHWM"))
        time.sleep(0.2)
    elapsed = time.time() - started
    peak = rss_kib(proxy.pid, "VmHWM")
    alive = proxy.poll() is None
    proxy.terminate()
    sink.terminate()
    counts = {}
    for r in replies:
        counts[r] = counts.get(r, 0) + 1
    limit_kib = (INFLIGHT_MIB + 256) * 1024
    print(f"{CONCURRENT} x {len(data) / 1e6:.1f} MB in {elapsed:.1f} s; replies {counts}")
    print(f"proxy peak RSS {peak / 1024:.0f} MiB (limit {limit_kib / 1024:.0f} MiB); "
          f"largest worker peak {peak_worker / 1024:.0f} MiB; proxy alive: {alive}")
    shutil.rmtree(work, ignore_errors=True)
    ok = alive and peak <= limit_kib and all(r in (250, 451) for r in replies)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
