"""The callback PayHero sends for the newest answered STK prompt on a phone, read from
the sandbox's store in the app's database. Run by the scale-out test as ``python -m
tests.e2e.payhero_callback PHONE`` with the app's env; prints ``{"path": …, "body": …}``:
the callback's path and query (its secret token) and its JSON body, for the test to
send to another process than the one the sandbox would."""

from __future__ import annotations

import json
import sys
from urllib.parse import urlsplit

from payflow_app.sandbox.payhero import store
from payflow_app.sandbox.payhero.prompts import callback_body


def main(phone: str) -> None:
    answered = next(r for r in store.phone_requests(phone) if r["status"] != "QUEUED")
    url = urlsplit(answered["callback_url"])
    print(json.dumps({"path": f"{url.path}?{url.query}", "body": callback_body(answered)}))


if __name__ == "__main__":
    main(sys.argv[1])
